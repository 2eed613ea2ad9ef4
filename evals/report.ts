/**
 * Eval reports: a JSON file (everything: runs, metrics, the gate) and a Markdown summary, written
 * under `<dataDir>/reports/evals/`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GateResult, MetricCheck } from './baseline.ts';
import type { EvalResult } from './runner.ts';
import { runChecks, type Metrics } from './scorers.ts';
import type { Scenario } from './scenario.ts';

/** Reports go here, under the data directory. */
export const EVAL_REPORTS_SUBDIR = path.join('reports', 'evals');

const pct = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, digits = 0): string => (x === null ? 'n/a' : x.toFixed(digits));
const mark = (x: boolean | null): string => (x === null ? '' : x ? 'ok' : 'FAIL');

function metricsRow(name: string, m: Metrics): string {
  return `| ${name} | ${m.runs} | ${pct(m.schemaValidRate)} | ${pct(m.decisionAgreement)} | ${pct(m.citationValidity)} | ${pct(m.decisiveCited)} | ${pct(m.injectionResistance)} | ${pct(m.stability)} | ${num(m.latencyP50Ms)} | ${num(m.latencyP95Ms)} | ${num(m.promptTokensPerRun)} | ${num(m.completionTokensPerRun)} | ${num(m.llmCallsPerRun, 1)} | ${num(m.toolTurnCallsPerRun, 1)} | ${pct(m.toolTurnValidRate)} | ${num(m.toolErrorsPerRun, 2)} |`;
}

/** The limit column of a gate check: the bound in the wrong direction, or the range for `both`. */
function limitText(c: MetricCheck): string {
  if (c.lowerLimit === null) return num(c.limit, 3);
  return c.lowerLimit === c.limit ? `= ${num(c.limit, 3)}` : `${num(c.lowerLimit, 3)} .. ${num(c.limit, 3)}`;
}

/** The Markdown report of an eval and its gate (null when no baseline was compared). */
export function renderMarkdown(result: EvalResult, scenarios: readonly Scenario[], gateResult: GateResult | null, baselineFile: string | null): string {
  const lines: string[] = [];
  lines.push(`# Eval: ${result.backend} / ${result.model}`);
  lines.push('');
  lines.push(
    `${result.scenarios} scenarios x ${result.seeds.length} seed(s) (${result.seeds.join(', ')}), ${result.runs.length} committee runs, ${result.startedAt} .. ${result.finishedAt}.`,
  );
  lines.push(
    `Prompt versions: ${Object.entries(result.promptVersions)
      .map(([r, v]) => `${r} ${v}`)
      .join(', ')}.`,
  );
  lines.push('');
  if (gateResult) {
    lines.push(`## Gate: ${gateResult.ok ? 'PASS' : 'FAIL'} (baseline ${baselineFile ?? '?'})`);
    lines.push('');
    lines.push('| metric | baseline | now | limit | gated | result |');
    lines.push('|---|---|---|---|---|---|');
    for (const c of gateResult.checks)
      lines.push(`| ${c.metric} | ${num(c.baseline, 3)} | ${num(c.current, 3)} | ${limitText(c)} | ${c.gated ? 'yes' : 'no'} | ${c.ok ? 'ok' : 'FAIL'} |`);
  } else {
    lines.push(`## Gate: no baseline${baselineFile ? ` at ${baselineFile}` : ''} (run with --update-baseline to write one)`);
  }
  lines.push('');
  lines.push('## Metrics');
  lines.push('');
  lines.push(
    'LLM calls/run include the tool-request turns (tool-turn calls/run); a tool turn is valid when its answer was used, not replaced by the default calls.',
  );
  lines.push('');
  lines.push(
    '| scope | runs | schema-valid | decision agreement | citation validity | decisive cited | injection resistance | stability | latency p50 ms | latency p95 ms | prompt tokens/run | completion tokens/run | LLM calls/run | tool-turn calls/run | tool turns valid | tool errors/run |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  lines.push(metricsRow('**overall**', result.metrics.overall));
  for (const [category, m] of Object.entries(result.metrics.byCategory)) if (m) lines.push(metricsRow(category, m));
  lines.push('');
  lines.push('## Runs');
  lines.push('');
  lines.push(
    '| scenario | category | seed | decision | size | decision ok | cited ok | citations valid | injection ok | LLM calls (tool turns) | tool-turn fallbacks | tool errors |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  for (const r of result.runs) {
    const s = byId.get(r.scenarioId);
    const c = s ? runChecks(s, r) : null;
    lines.push(
      `| ${r.scenarioId} | ${r.category} | ${r.seed} | ${r.decision} | ${r.sizeMultiplier.toFixed(2)} | ${mark(c?.decision ?? null)} | ${mark(c?.citations ?? null)} | ${mark(c?.citationsValid ?? null)} | ${mark(c?.injection ?? null)} | ${r.llmCalls} (${r.toolTurnCalls}) | ${r.toolTurnFallbacks} of ${r.toolTurns} | ${r.toolErrors} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** Writes `<stem>.json` and `<stem>.md` under `<dataDir>/reports/evals/`; returns both paths. */
export function writeReports(dataDir: string, stem: string, json: unknown, markdown: string): { json: string; markdown: string } {
  const dir = path.join(dataDir, EVAL_REPORTS_SUBDIR);
  mkdirSync(dir, { recursive: true });
  const jsonPath = path.join(dir, `${stem}.json`);
  const mdPath = path.join(dir, `${stem}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(mdPath, markdown);
  return { json: jsonPath, markdown: mdPath };
}
