/**
 * `npm run evals` inside `npm test`: the same suites (scripts/eval-suites.ts), on every scenario,
 * against the committed baselines: the rules baseline, and the real ChatOllama client against the
 * Ollama-API test server with the tiny random-weight eval model (structure only: what it says is
 * never asserted). CI runs the test server live rather than from a cassette: the point of this
 * suite is to exercise the real client, HTTP, node-llama-cpp and the grammar made from the
 * production schemas, and live it costs about a minute (measured in the evals-llm notes).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BASELINES_DIR, baselineFileName, loadScenarios, readBaseline } from '../../evals/index.ts';
import { TEST_SERVER_MODEL, runEvalSuites } from '../../scripts/eval-suites.ts';

const scenarios = loadScenarios();
/** 42 scenarios x 5 sequential CPU generations on a shared 2-core machine (~1 min, 15x that as headroom). */
const SUITES_TIMEOUT_MS = 900_000;

describe('the gated eval suites of npm run evals', () => {
  it(
    'pass their committed baselines on every scenario, the test server 100% schema-valid with no repair',
    async () => {
      const results = await runEvalSuites({ scenarios, reportsDataDir: null });
      expect(results.map((r) => r.name)).toEqual(['rules', 'test-server']);
      for (const r of results) {
        expect(r.suite.result.runs).toHaveLength(scenarios.length);
        expect(r.suite.gate?.failures).toEqual([]);
        expect(r.ok).toBe(true);
      }
      const llm = results[1]?.suite.result;
      expect(llm?.backend).toBe('ollama');
      expect(llm?.model).toBe(TEST_SERVER_MODEL);
      expect(llm?.metrics.overall.schemaValidRate).toBe(1);
      // Five agents a run, each answering once: every answer was valid on its first try.
      expect(llm?.runs.every((r) => r.llmCalls === 5 && r.outputs === 5 && r.validOutputs === 5 && r.abstainReason === null)).toBe(true);
    },
    SUITES_TIMEOUT_MS,
  );

  it('fails the test-server gate when the role schemas no longer reach the grammar', async () => {
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
  }, SUITES_TIMEOUT_MS);

  it('gates the committed test-server baseline on structure only', () => {
    const b = readBaseline(`${DEFAULT_BASELINES_DIR}/${baselineFileName('ollama', TEST_SERVER_MODEL)}`);
    expect(b?.scenarios).toBe(scenarios.length);
    expect(b?.metrics.overall.schemaValidRate).toBe(1);
    expect(b?.tolerances.schemaValidRate).toEqual({ direction: 'higher', abs: 0 });
    expect(b?.tolerances.citationValidity).toEqual({ direction: 'higher', abs: 0 });
    for (const noise of ['decisionAgreement', 'decisiveCited', 'injectionResistance', 'stability', 'latencyP50Ms', 'latencyP95Ms'] as const) {
      expect(b?.tolerances[noise]).toBeNull();
    }
  });
});
