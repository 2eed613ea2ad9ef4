/**
 * `npm run evals` inside `npm test`: the same suites (scripts/eval-suites.ts), on every scenario,
 * against the committed baselines: the rules baseline, and the real ChatOllama client against the
 * Ollama-API test server with the tiny random-weight eval model (structure only: what it says is
 * never asserted). CI runs the test server live rather than from a cassette: the point of this
 * suite is to exercise the real client, HTTP, node-llama-cpp and the grammar made from the
 * production schemas, and live it costs about a minute (measured in the evals-llm notes).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../config/index.ts';
import { DEFAULT_BASELINES_DIR, baselineFileName, loadScenarios, readBaseline } from '../../evals/index.ts';
import { TOOL_CALL_HEADER } from '../support/ollama-server.ts';
import { TEST_SERVER_MODEL, runEvalSuites } from '../../scripts/eval-suites.ts';

const scenarios = loadScenarios();
/** 42 scenarios x 7 sequential CPU generations on a shared 2-core machine (~1 min, 15x that as headroom). */
const SUITES_TIMEOUT_MS = 900_000;

/**
 * The LLM calls of one run of the default committee: one answer per enabled agent (bull and bear
 * once per debate round) and one tool-request turn per enabled agent with `toolTurn` and tools.
 */
function defaultCommitteeCalls(config: Config): { answers: number; toolTurns: number } {
  const a = config.agents;
  const rounds = config.settings.committee.debateRounds;
  const answers = [a.analyst, a.risk, a.committee].filter((r) => r.enabled).length + [a.bull, a.bear].filter((r) => r.enabled).length * rounds;
  const toolTurns =
    config.settings.committee.maxToolCallsPerAgent > 0
      ? [a.analyst, a.bull, a.bear, a.risk, a.committee].filter((r) => r.enabled && r.toolTurn && r.tools.length > 0).length
      : 0;
  return { answers, toolTurns };
}
const expected = defaultCommitteeCalls(loadConfig({ env: {} }));

describe('the gated eval suites of npm run evals', () => {
  it('counts the default committee as 5 answers and 2 tool-request turns (analyst and risk)', () => {
    expect(expected).toEqual({ answers: 5, toolTurns: 2 });
  });

  it(
    'pass their committed baselines on every scenario, the test server 100% schema-valid, every tool turn used, no repair',
    async () => {
      const results = await runEvalSuites({ scenarios, reportsDataDir: null });
      expect(results.map((r) => r.name)).toEqual(['rules', 'test-server']);
      for (const r of results) {
        expect(r.suite.result.runs).toHaveLength(scenarios.length);
        expect(r.suite.gate?.failures).toEqual([]);
        expect(r.ok).toBe(true);
        expect(r.suite.result.metrics.overall.schemaValidRate).toBe(1);
        // Both backends hold the analyst's and the risk agent's tool turns and use their answers.
        expect(r.suite.result.runs.every((x) => x.toolTurns === expected.toolTurns && x.toolTurnFallbacks === 0)).toBe(true);
      }
      // The rules baseline answers its tool turns without an LLM.
      expect(results[0]?.suite.result.runs.every((x) => x.llmCalls === 0 && x.toolTurnCalls === 0)).toBe(true);
      const llm = results[1]?.suite.result;
      expect(llm?.backend).toBe('ollama');
      expect(llm?.model).toBe(TEST_SERVER_MODEL);
      // Every run: each agent answered once and validly on its first try (no repair), each tool turn
      // was one LLM call whose calls ran without a tool error.
      const calls = expected.answers + expected.toolTurns;
      const bad = llm?.runs.filter(
        (r) =>
          r.llmCalls !== calls ||
          r.toolTurnCalls !== expected.toolTurns ||
          r.outputs !== expected.answers ||
          r.validOutputs !== expected.answers ||
          r.toolErrors !== 0 ||
          r.abstainReason !== null,
      );
      expect(bad).toEqual([]);
      expect(llm?.metrics.overall).toMatchObject({ llmCallsPerRun: calls, toolTurnCallsPerRun: expected.toolTurns, toolTurnValidRate: 1, toolErrorsPerRun: 0 });
    },
    SUITES_TIMEOUT_MS,
  );

  it(
    'fails the test-server gate when the role schemas no longer reach the grammar',
    async () => {
      // The regression: a generic object schema is sent as `format` instead of the role's.
      const [r] = await runEvalSuites({
        only: ['test-server'],
        scenarios: scenarios.slice(0, 1),
        reportsDataDir: null,
        wrapTestServerBackend: (backend) => ({ ...backend, complete: (request) => backend.complete({ ...request, jsonSchema: { type: 'object' } }) }),
      });
      expect(r?.ok).toBe(false);
      expect(r?.suite.result.metrics.overall.schemaValidRate).toBeLessThan(1);
      expect(r?.suite.gate?.failures.map((f) => f.split(':')[0])).toEqual(expect.arrayContaining(['schemaValidRate', 'llmCallsPerRun']));
    },
    SUITES_TIMEOUT_MS,
  );

  it(
    'fails the test-server gate when the tool turns fall back to the default calls',
    async () => {
      // The regression: without the tool-call header the server lets the model answer a tool request in
      // free text; the tool turn cannot read it and falls back. The run still makes 7 calls and every
      // answer stays schema-valid, so only the tool-turn metric (and the tokens) can see it.
      const [r] = await runEvalSuites({
        only: ['test-server'],
        scenarios: scenarios.slice(0, 1),
        reportsDataDir: null,
        testServerOptions: (o) => ({ ...o, headers: Object.fromEntries(Object.entries(o.headers ?? {}).filter(([k]) => k !== TOOL_CALL_HEADER)) }),
      });
      const [run] = r?.suite.result.runs ?? [];
      expect(run).toMatchObject({ llmCalls: expected.answers + expected.toolTurns, toolTurns: expected.toolTurns, toolTurnFallbacks: expected.toolTurns });
      expect(r?.ok).toBe(false);
      expect(r?.suite.gate?.failures.map((f) => f.split(':')[0])).toEqual(expect.arrayContaining(['toolTurnValidRate']));
      expect(r?.suite.gate?.failures.map((f) => f.split(':')[0])).not.toContain('schemaValidRate');
    },
    SUITES_TIMEOUT_MS,
  );

  it('gates the committed test-server baseline on structure only, the calls per run exactly the default committee', () => {
    const b = readBaseline(`${DEFAULT_BASELINES_DIR}/${baselineFileName('ollama', TEST_SERVER_MODEL)}`);
    expect(b?.scenarios).toBe(scenarios.length);
    expect(b?.metrics.overall).toMatchObject({
      schemaValidRate: 1,
      llmCallsPerRun: expected.answers + expected.toolTurns,
      toolTurnCallsPerRun: expected.toolTurns,
      toolTurnValidRate: 1,
    });
    expect(b?.tolerances.schemaValidRate).toEqual({ direction: 'higher', abs: 0 });
    expect(b?.tolerances.citationValidity).toEqual({ direction: 'higher', abs: 0 });
    expect(b?.tolerances.llmCallsPerRun).toEqual({ direction: 'both', abs: 0 });
    expect(b?.tolerances.toolTurnCallsPerRun).toEqual({ direction: 'both', abs: 0 });
    expect(b?.tolerances.toolTurnValidRate).toEqual({ direction: 'higher', abs: 0 });
    for (const noise of ['decisionAgreement', 'decisiveCited', 'injectionResistance', 'stability', 'latencyP50Ms', 'latencyP95Ms'] as const) {
      expect(b?.tolerances[noise]).toBeNull();
    }
  });
});
