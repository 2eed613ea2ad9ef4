/**
 * `npm run evals`: the gated evals, the same suites `npm test` runs (tests/evals/suites.test.ts),
 * both on all 42 scenarios (scripts/eval-suites.ts):
 *  1. `rules`: the rules baseline, against evals/baselines/rules-rules-baseline.v1.json;
 *  2. `test-server`: the real ChatOllama client over HTTP against the Ollama-API test server
 *     (node-llama-cpp, JSON-schema grammar, production prompts, schemas and models.yaml settings)
 *     with the tiny random-weight eval model (tests/support/eval-gguf.ts), against
 *     evals/baselines/ollama-quorum-tiny.json. Its answers are noise: the gate is structure only
 *     (schema-valid rate 1, citation validity, every tool-request turn's answer used, LLM calls per
 *     run with the tool turns, tool errors, tokens per run), never agreement.
 * The eval model's vocabulary is learned from the prompts (a prompt is ~1,600 tokens, not ~3,400
 * one-character tokens) and its output layer favours short JSON (~70 tokens an answer), so a call
 * is ~0.15 s of CPU, a scenario ~1 s and the test-server suite under a minute on a 2-core machine
 * (it was ~19 s a scenario with 4 answers in 5 truncated; numbers in the evals-llm notes).
 * Usage: tsx scripts/evals.ts [--update-baseline] [--only rules|test-server]   (exit 1 when a gate fails)
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.ts';
import { SUITE_NAMES, runEvalSuites, suiteSummary, type SuiteName } from './eval-suites.ts';

function isSuiteName(s: string): s is SuiteName {
  return (SUITE_NAMES as readonly string[]).includes(s);
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { 'update-baseline': { type: 'boolean', default: false }, only: { type: 'string', multiple: true } } });
  const only = values.only ?? [...SUITE_NAMES];
  const unknown = only.filter((s) => !isSuiteName(s));
  if (unknown.length > 0) {
    process.stderr.write(`--only: unknown suite ${unknown.join(', ')} (one of ${SUITE_NAMES.join(', ')})\n`);
    return 2;
  }
  const counts = new Map<SuiteName, number>();
  const results = await runEvalSuites({
    // The environment's overrides apply (QUORUM_DATA_DIR for the reports, QUORUM_MODELS__…), as for every command.
    config: loadConfig(),
    only: only.filter(isSuiteName),
    updateBaseline: values['update-baseline'],
    onRun: (suite, run) => {
      const n = (counts.get(suite) ?? 0) + 1;
      counts.set(suite, n);
      process.stdout.write(
        `${suite} ${n}: ${run.scenarioId} ${run.decision} ${Math.round(run.latencyMs)} ms, ${run.llmCalls} LLM calls (${run.toolTurnCalls} tool turns, ${run.toolTurnFallbacks} fell back), ${run.validOutputs}/${run.outputs} valid\n`,
      );
    },
  });
  for (const r of results) process.stdout.write(`${suiteSummary(r)}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}

process.exitCode = await main();
