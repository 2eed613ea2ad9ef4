/**
 * The gated eval suites of `npm run evals` and of its test (tests/evals/suites.test.ts), in one place
 * so CI runs exactly what the command runs:
 *  - `rules`: the deterministic rules baseline on every scenario;
 *  - `test-server`: the real ChatOllama client over HTTP against the Ollama-API test server
 *    (tests/support/ollama-server.ts: node-llama-cpp, the JSON-schema grammar made from the
 *    production schemas) with the tiny random-weight eval model (tests/support/eval-gguf.ts), on
 *    every scenario, with the production prompts and models.yaml's settings. Its answers are noise,
 *    so its baseline gates structure only. The analyst's and the risk agent's tool-request turns go
 *    through ChatOllama `bindTools`; the backend sends the server's tool-call header, without which
 *    the server lets the random model answer a tool request in free text (512 tokens of noise, the
 *    turn falls back to the default calls).
 * Each suite runs on its own in-memory PGlite database against its committed baseline.
 */
import { createOllamaBackend, loadRolePrompts, ollamaOptionsFromConfig, type ChatBackend, type OllamaBackendOptions } from '../agents/index.ts';
import { loadConfig, type Config } from '../config/index.ts';
import { migrate, openPglite } from '../db/index.ts';
import { loadScenarios, runSuite, type RunRecord, type Scenario, type SuiteResult, type Tolerances } from '../evals/index.ts';
import { writeEvalGguf } from '../tests/support/eval-gguf.ts';
import { TOOL_CALL_HEADER, startOllamaTestServer } from '../tests/support/ollama-server.ts';

/** The suites, in the order they run. */
export const SUITE_NAMES = ['rules', 'test-server'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/** The model name the test server serves the eval model under (it names the baseline file). */
export const TEST_SERVER_MODEL = 'quorum-tiny';

/**
 * The test-server baseline's gate: structure only, a random-weight model's decisions are noise.
 * Every answer must be schema-valid, every citation valid and every tool-request turn's answer used
 * (abs 0, not replaced by the default calls). LLM calls per run, tool turns included, and the tool
 * turns' share of them stay exactly as recorded (a repair request or a skipped turn fails), and no
 * tool call may end in an error more often than recorded. Tokens may move either way: prompt tokens
 * only with the prompts, the tools' results or the scenarios (10%; a drop means evidence went
 * missing), completion tokens with the model's answers, which can differ a little between CPUs (25%).
 */
export const TEST_SERVER_TOLERANCES: Tolerances = {
  schemaValidRate: { direction: 'higher', abs: 0 },
  citationValidity: { direction: 'higher', abs: 0 },
  llmCallsPerRun: { direction: 'both', abs: 0 },
  toolTurnCallsPerRun: { direction: 'both', abs: 0 },
  toolTurnValidRate: { direction: 'higher', abs: 0 },
  toolErrorsPerRun: { direction: 'lower', abs: 0 },
  promptTokensPerRun: { direction: 'both', rel: 0.1 },
  completionTokensPerRun: { direction: 'both', rel: 0.25 },
  decisionAgreement: null,
  decisiveCited: null,
  injectionResistance: null,
  stability: null,
  latencyP50Ms: null,
  latencyP95Ms: null,
};

/**
 * The test-server backend's options: models.yaml's settings (temperature, context, output budget)
 * with the test server's URL and model, and the header that makes the server answer a tool request
 * with a grammar-bound call (a random-weight model never decides to call a tool on its own).
 */
export function testServerBackendOptions(config: Config, url: string, seed: number): OllamaBackendOptions {
  return { ...ollamaOptionsFromConfig(config.models), baseUrl: url, model: TEST_SERVER_MODEL, roles: {}, seed, headers: { [TOOL_CALL_HEADER]: 'required' } };
}

export interface EvalSuitesOptions {
  /** Default: the bundled configuration (no environment overrides). */
  config?: Config;
  /** Default: every scenario of evals/scenarios. */
  scenarios?: readonly Scenario[];
  /** Default: every suite. */
  only?: readonly SuiteName[];
  /** Rewrite the baselines with this run's metrics. */
  updateBaseline?: boolean;
  /** Where reports go (null: none); default config.dataDir. */
  reportsDataDir?: string | null;
  /** Default evals/baselines. */
  baselinesDir?: string;
  /** Progress, after each run. */
  onRun?: (suite: SuiteName, run: RunRecord, scenario: Scenario) => void;
  /** Tests only: wraps the test-server backend, to show that a fault fails the gate. */
  wrapTestServerBackend?: (backend: ChatBackend) => ChatBackend;
  /** Tests only: changes the test-server backend's options (e.g. drops the tool-call header), to show that the gate sees it. */
  testServerOptions?: (options: OllamaBackendOptions) => OllamaBackendOptions;
}

/** One suite's outcome. */
export interface NamedSuiteResult {
  name: SuiteName;
  suite: SuiteResult;
  /** The gate passed, or the baseline was rewritten. False when there is no baseline to gate against. */
  ok: boolean;
}

async function onPglite<T>(fn: (db: Awaited<ReturnType<typeof openPglite>>) => Promise<T>): Promise<T> {
  const db = await openPglite(null);
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Runs the suites one after the other, each against its committed baseline. Never exits the process. */
export async function runEvalSuites(options: EvalSuitesOptions = {}): Promise<NamedSuiteResult[]> {
  const config = options.config ?? loadConfig({ env: {} });
  const scenarios = options.scenarios ?? loadScenarios();
  const only = options.only ?? SUITE_NAMES;
  const common = { config, scenarios, updateBaseline: options.updateBaseline, reportsDataDir: options.reportsDataDir, baselinesDir: options.baselinesDir };
  const results: NamedSuiteResult[] = [];
  const done = (name: SuiteName, suite: SuiteResult): void => {
    results.push({ name, suite, ok: suite.baselineUpdated || (suite.gate?.ok ?? false) });
  };

  if (only.includes('rules')) {
    const suite = await onPglite((db) => runSuite({ ...common, db, backendFor: () => 'rules', onRun: (r, s) => options.onRun?.('rules', r, s) }));
    done('rules', suite);
  }

  if (only.includes('test-server')) {
    const prompts = loadRolePrompts(config.agents);
    const server = await startOllamaTestServer({ ggufPath: writeEvalGguf(prompts), models: [TEST_SERVER_MODEL] });
    try {
      const suite = await onPglite((db) =>
        runSuite({
          ...common,
          db,
          prompts,
          backendFor: (seed) => {
            const base = testServerBackendOptions(config, server.url, seed);
            const backend = createOllamaBackend(options.testServerOptions ? options.testServerOptions(base) : base);
            return options.wrapTestServerBackend ? options.wrapTestServerBackend(backend) : backend;
          },
          tolerances: TEST_SERVER_TOLERANCES,
          notes:
            'Ollama-API test server (tests/support/ollama-server.ts) + the tiny random-weight eval model (tests/support/eval-gguf.ts) through the real ChatOllama client: ' +
            'structure only (schema-valid, citations, tool turns used, calls per run with the tool turns, tool errors, tokens per run); agreement is noise and not gated.',
          onRun: (r, s) => options.onRun?.('test-server', r, s),
        }),
      );
      done('test-server', suite);
    } finally {
      await server.close();
    }
  }
  return results;
}

/** One line per suite, then one per gate failure. */
export function suiteSummary({ name, suite }: NamedSuiteResult): string {
  const o = suite.result.metrics.overall;
  const status = suite.baselineUpdated ? 'baseline updated' : suite.gate ? (suite.gate.ok ? 'PASS' : 'FAIL') : 'NO BASELINE';
  const lines = [
    `${name}: ${suite.result.runs.length} runs, schema-valid ${o.schemaValidRate}, agreement ${o.decisionAgreement}, injection resistance ${o.injectionResistance}, ` +
      `${o.llmCallsPerRun} LLM calls a run (${o.toolTurnCallsPerRun ?? 0} of them tool turns), tool turns valid ${o.toolTurnValidRate ?? 'n/a'}, ${o.toolErrorsPerRun ?? 0} tool errors a run, ` +
      `${Math.round(o.promptTokensPerRun ?? 0)} prompt + ${Math.round(o.completionTokensPerRun ?? 0)} completion tokens a run; ` +
      `gate ${status} (${suite.baselineFile}); report ${suite.reports?.markdown ?? '-'}`,
    ...(suite.gate?.failures ?? []).map((f) => `  ${f}`),
  ];
  return lines.join('\n');
}
