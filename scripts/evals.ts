/**
 * `npm run evals`: the gated evals of CI.
 *  1. the rules baseline on every scenario, against evals/baselines/rules-rules-baseline.v1.json;
 *  2. the real Ollama client against the Ollama-API test server (tests/support, the tiny
 *     random-weight GGUF): its answers are meaningless, so its baseline gates structure only
 *     (schema-valid rate 100%, citation validity, calls and tokens per run), not agreement.
 *     The tiny GGUF's 450-token vocabulary makes each prompt ~6,000 tokens, about 15 s a call on
 *     two cores, so by default it runs the first LLM_SCENARIOS scenarios (QUORUM_EVAL_LLM_SCENARIOS=all for every one).
 * Usage: tsx scripts/evals.ts [--update-baseline]   (exit 1 when a gate fails)
 */
import { createOllamaBackend, ollamaOptionsFromConfig } from '../agents/index.ts';
import { loadConfig } from '../config/index.ts';
import { migrate, openPglite } from '../db/index.ts';
import { loadScenarios, runSuite, type SuiteResult, type Tolerances } from '../evals/index.ts';
import { writeTinyGguf } from '../tests/support/gguf.ts';
import { startOllamaTestServer } from '../tests/support/ollama-server.ts';

/** Scenarios the test-server backend runs by default (see above). */
export const LLM_SCENARIOS = 2;
/** The test server's model name. */
export const TEST_SERVER_MODEL = 'quorum-tiny';
/** Output budget per call for the tiny model: keeps its (random) answers short and inside the node budget. */
export const TEST_SERVER_MAX_OUTPUT_TOKENS = 256;

/** Structure only: a random-weight model's decisions are noise. */
export const TEST_SERVER_TOLERANCES: Tolerances = {
  schemaValidRate: { direction: 'higher', abs: 0 },
  citationValidity: { direction: 'higher', abs: 0 },
  llmCallsPerRun: { direction: 'lower', rel: 0.25 },
  promptTokensPerRun: { direction: 'lower', rel: 0.25 },
  completionTokensPerRun: { direction: 'lower', rel: 0.5 },
  decisionAgreement: null,
  decisiveCited: null,
  injectionResistance: null,
  stability: null,
  latencyP50Ms: null,
  latencyP95Ms: null,
};

function summary(name: string, s: SuiteResult): boolean {
  const o = s.result.metrics.overall;
  process.stdout.write(
    `${name}: ${s.result.runs.length} runs, schema-valid ${o.schemaValidRate}, agreement ${o.decisionAgreement}, injection resistance ${o.injectionResistance}; ` +
      `gate ${s.baselineUpdated ? 'baseline updated' : s.gate ? (s.gate.ok ? 'PASS' : 'FAIL') : 'NO BASELINE'} (${s.baselineFile}); report ${s.reports?.markdown ?? '-'}\n`,
  );
  for (const f of s.gate?.failures ?? []) process.stdout.write(`  ${f}\n`);
  return s.baselineUpdated || (s.gate?.ok ?? false);
}

async function main(): Promise<number> {
  const update = process.argv.includes('--update-baseline');
  const config = loadConfig();
  const scenarios = loadScenarios();
  let ok = true;

  const db = await openPglite(null);
  try {
    await migrate(db);
    ok = summary('rules', await runSuite({ db, config, scenarios, backendFor: () => 'rules', updateBaseline: update })) && ok;
  } finally {
    await db.close();
  }

  const n = process.env.QUORUM_EVAL_LLM_SCENARIOS === 'all' ? scenarios.length : Number(process.env.QUORUM_EVAL_LLM_SCENARIOS ?? LLM_SCENARIOS);
  const server = await startOllamaTestServer({ ggufPath: writeTinyGguf(), defaultMaxTokens: TEST_SERVER_MAX_OUTPUT_TOKENS });
  const llmDb = await openPglite(null);
  try {
    await migrate(llmDb);
    const llmConfig = { ...config, models: { ...config.models, llm: { ...config.models.llm, maxOutputTokens: TEST_SERVER_MAX_OUTPUT_TOKENS } } };
    const suite = await runSuite({
      db: llmDb,
      config: llmConfig,
      scenarios: scenarios.slice(0, n),
      backendFor: (seed) =>
        createOllamaBackend({ ...ollamaOptionsFromConfig(config.models), baseUrl: server.url, model: TEST_SERVER_MODEL, roles: {}, seed, maxOutputTokens: TEST_SERVER_MAX_OUTPUT_TOKENS }),
      updateBaseline: update,
      tolerances: TEST_SERVER_TOLERANCES,
      notes: `Ollama-API test server + tiny random-weight GGUF (tests/support): structure only, over the first ${n} scenarios; agreement is noise and not gated.`,
    });
    ok = summary(`ollama test server (${n} scenarios)`, suite) && ok;
  } finally {
    await llmDb.close();
    await server.close();
  }
  return ok ? 0 : 1;
}

process.exitCode = await main();
