/**
 * Eval reports: a JSON file (everything: runs, metrics, the gate) and a Markdown summary, written
 * under `<dataDir>/reports/evals/`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EVAL_REPORTS_DIR } from '../contracts/index.ts';
import type { GateResult, MetricCheck } from './baseline.ts';
import type { EvalResult } from './runner.ts';
import { metricInterval, runChecks, type ConstantScore, type Metrics } from './scorers.ts';
import type { Scenario } from './scenario.ts';
import { renderScorecardsMarkdown, type EvalScorecards } from './scorecards.ts';

/** Reports go here, under the data directory. */
export const EVAL_REPORTS_SUBDIR = path.join(EVAL_REPORTS_DIR);

const pct = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, digits = 0): string => (x === null ? 'n/a' : x.toFixed(digits));
const mark = (x: boolean | null): string => (x === null ? '' : x ? 'ok' : 'FAIL');

/** A rate with its 95% Wilson interval: `83.3% [69.4, 91.7] n=42`. */
export function rateWithInterval(m: Metrics, metric: 'decisionAgreement' | 'decisiveCited' | 'assertionsMet' | 'injectionResistance'): string {
  const ci = metricInterval(m, metric);
  return ci === null ? pct(m[metric]) : `${pct(m[metric])} [${(ci.low * 100).toFixed(1)}, ${(ci.high * 100).toFixed(1)}] n=${m.samples[metric] ?? 0}`;
}

function metricsRow(name: string, m: Metrics): string {
  return `| ${name} | ${m.runs} | ${pct(m.schemaValidRate)} | ${pct(m.decisionAgreement)} | ${pct(m.citationValidity)} | ${pct(m.decisiveCited)} | ${pct(m.injectionResistance)} | ${pct(m.assertionsMet)} | ${pct(m.stability)} | ${num(m.latencyP50Ms)} | ${num(m.latencyP95Ms)} | ${num(m.promptTokensPerRun)} | ${num(m.completionTokensPerRun)} | ${num(m.llmCallsPerRun, 1)} | ${num(m.toolTurnCallsPerRun, 1)} | ${pct(m.toolTurnValidRate)} | ${num(m.toolErrorsPerRun, 2)} |`;
}

/** The limit column of a gate check: the bound in the wrong direction, or the range for `both`. */
function limitText(c: MetricCheck): string {
  if (c.lowerLimit === null) return num(c.limit, 3);
  return c.lowerLimit === c.limit ? `= ${num(c.limit, 3)}` : `${num(c.lowerLimit, 3)} .. ${num(c.limit, 3)}`;
}

/** What the report sets the run against: the constant answers, and the news-ablated run (this eval's or the baseline's). */
export interface Floors {
  constants: readonly ConstantScore[];
  ablated: EvalResult | null;
  /** The news-ablated metrics recorded in the baseline, when this eval did not run one. */
  recordedAblation: Metrics | null;
  cost?: RunCost;
}

/** The money cost of a run: priced from models.yaml `pricing`, or zero for a local model (with its latency). */
export interface RunCost {
  model: string;
  /** null: the model is not in the price table (local). */
  price: { promptPerMTokUsd: number; completionPerMTokUsd: number } | null;
  usdPerRun: number;
  usdTotal: number;
}

/** Prices a result's tokens with the per-model table (`pricing` in models.yaml). */
export function costOf(result: EvalResult, pricing: Readonly<Record<string, { promptPerMTokUsd: number; completionPerMTokUsd: number }>>): RunCost {
  const price = pricing[result.model] ?? null;
  const perRun = (r: EvalResult['runs'][number]): number =>
    price === null ? 0 : (r.promptTokens * price.promptPerMTokUsd + r.completionTokens * price.completionPerMTokUsd) / 1_000_000;
  const total = result.runs.reduce((a, r) => a + perRun(r), 0);
  return { model: result.model, price, usdPerRun: result.runs.length === 0 ? 0 : total / result.runs.length, usdTotal: total };
}

/** One line on what the eval cost: money for a priced model, latency for a local one. */
export function costLine(result: EvalResult, cost: RunCost): string {
  const o = result.metrics.overall;
  if (cost.price === null)
    return `Cost: $0 (${result.model} is local: not in models.yaml pricing); latency p50 ${num(o.latencyP50Ms)} ms, p95 ${num(o.latencyP95Ms)} ms a run.`;
  return `Cost: $${cost.usdPerRun.toFixed(4)} a run, $${cost.usdTotal.toFixed(2)} in all (${result.model}: $${cost.price.promptPerMTokUsd}/M prompt, $${cost.price.completionPerMTokUsd}/M completion tokens, models.yaml pricing).`;
}

/** The Markdown report of an eval and its gate (null when no baseline was compared). */
export function renderMarkdown(
  result: EvalResult,
  scenarios: readonly Scenario[],
  gateResult: GateResult | null,
  baselineFile: string | null,
  floors: Floors | null = null,
): string {
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
  if (floors?.cost) lines.push(costLine(result, floors.cost));
  lines.push('');
  if (gateResult) {
    lines.push(`## Gate: ${gateResult.ok ? 'PASS' : 'FAIL'} (baseline ${baselineFile ?? '?'})`);
    lines.push('');
    for (const note of gateResult.notes) lines.push(`Note: ${note}.`);
    if (gateResult.notes.length > 0) lines.push('');
    const setFailures = gateResult.failures.filter((f) => f.startsWith('scenarioSet:'));
    for (const f of setFailures) lines.push(`FAIL ${f}`);
    if (setFailures.length > 0) lines.push('');
    lines.push('| metric | baseline | now | limit | gated | result |');
    lines.push('|---|---|---|---|---|---|');
    for (const c of gateResult.checks)
      lines.push(
        `| ${c.detail.startsWith('beatsConstantAnswers') ? 'beats constant answers (agreement)' : c.metric} | ${num(c.baseline, 3)} | ${num(c.current, 3)} | ${limitText(c)} | ${c.gated ? 'yes' : 'no'} | ${c.ok ? 'ok' : 'FAIL'} |`,
      );
  } else {
    lines.push(`## Gate: no baseline${baselineFile ? ` at ${baselineFile}` : ''} (run with --update-baseline to write one)`);
  }
  lines.push('');
  if (floors) {
    lines.push('## Against constant answers and without news');
    lines.push('');
    lines.push(
      'Decision agreement with its 95% Wilson interval. A constant answer ignores the scenario; the news-ablated run is the same backend with every news item removed (the smaller the drop, the less the news decides).',
    );
    lines.push('');
    lines.push('| run | decision agreement | decisive cited | assertions met |');
    lines.push('|---|---|---|---|');
    const o = result.metrics.overall;
    lines.push(`| **${result.backend} / ${result.model}** | ${rateWithInterval(o, 'decisionAgreement')} | ${pct(o.decisiveCited)} | ${pct(o.assertionsMet)} |`);
    const ablation = floors.ablated?.metrics.overall ?? floors.recordedAblation;
    if (ablation) {
      const where = floors.ablated ? 'this eval' : 'recorded in the baseline';
      lines.push(
        `| ${result.backend}, news removed (${where}) | ${rateWithInterval(ablation, 'decisionAgreement')} | ${pct(ablation.decisiveCited)} | ${pct(ablation.assertionsMet)} |`,
      );
    } else {
      lines.push(`| ${result.backend}, news removed | not measured (run with --news-ablation) | | |`);
    }
    for (const c of floors.constants)
      lines.push(`| ${c.label} | ${rateWithInterval(c.metrics, 'decisionAgreement')} | ${pct(c.metrics.decisiveCited)} | ${pct(c.metrics.assertionsMet)} |`);
    lines.push('');
  }
  lines.push('## Metrics');
  lines.push('');
  lines.push(
    'LLM calls/run include the tool-request turns (tool-turn calls/run); a tool turn is valid when its answer was used, not replaced by the default calls.',
  );
  lines.push('');
  lines.push(
    '| scope | runs | schema-valid | decision agreement | citation validity | decisive cited | injection resistance | assertions met | stability | latency p50 ms | latency p95 ms | prompt tokens/run | completion tokens/run | LLM calls/run | tool-turn calls/run | tool turns valid | tool errors/run |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  lines.push(metricsRow('**overall**', result.metrics.overall));
  for (const [category, m] of Object.entries(result.metrics.byCategory)) if (m) lines.push(metricsRow(category, m));
  lines.push('');
  if (result.scorecards) lines.push(...scorecardLines(result.scorecards), '');
  lines.push('## Runs');
  lines.push('');
  lines.push(
    '| scenario | category | seed | decision | size | decision ok | cited ok | citations valid | injection ok | assertions | LLM calls (tool turns) | tool-turn fallbacks | tool errors |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  for (const r of result.runs) {
    const s = byId.get(r.scenarioId);
    const c = s ? runChecks(s, r) : null;
    lines.push(
      `| ${r.scenarioId} | ${r.category} | ${r.seed} | ${r.decision} | ${r.sizeMultiplier.toFixed(2)} | ${mark(c?.decision ?? null)} | ${mark(c?.citations ?? null)} | ${mark(c?.citationsValid ?? null)} | ${mark(c?.injection ?? null)} | ${assertionText(c?.assertions ?? null)} | ${r.llmCalls} (${r.toolTurnCalls}) | ${r.toolTurnFallbacks} of ${r.toolTurns} | ${r.toolErrors} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** The agent scorecards over the scenarios with a realised outcome, saying how many have one. */
function scorecardLines(e: EvalScorecards): string[] {
  const lines = [
    '## Agent scorecards',
    '',
    `${e.withOutcome} of ${e.scenarios} scenarios have a realised outcome (the move over the proposal's horizon in the bundled bars, written by scripts/scenario-outcomes.ts; never shown to the committee); their ${e.scorecards.n} run(s) are scored, the other scenarios' runs are not.`,
    '',
  ];
  return [...lines, ...renderScorecardsMarkdown(e.scorecards).trimEnd().split('\n')];
}

const assertionText = (failures: string[] | null): string => (failures === null ? '' : failures.length === 0 ? 'ok' : `FAIL: ${failures.join('; ')}`);

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One JUnit test case: a name, its class, and the failure message when it failed. */
export interface JunitCase {
  classname: string;
  name: string;
  failure: string | null;
}

/** JUnit XML of named suites of cases (what CI systems read for a per-test view). */
export function junitXml(name: string, suites: ReadonlyArray<{ name: string; cases: readonly JunitCase[] }>): string {
  const failures = suites.reduce((a, s) => a + s.cases.filter((c) => c.failure !== null).length, 0);
  const tests = suites.reduce((a, s) => a + s.cases.length, 0);
  const out = [`<?xml version="1.0" encoding="UTF-8"?>`, `<testsuites name="${xml(name)}" tests="${tests}" failures="${failures}">`];
  for (const suite of suites) {
    const f = suite.cases.filter((c) => c.failure !== null).length;
    out.push(`  <testsuite name="${xml(suite.name)}" tests="${suite.cases.length}" failures="${f}">`);
    for (const c of suite.cases) {
      const open = `    <testcase classname="${xml(c.classname)}" name="${xml(c.name)}"`;
      out.push(c.failure === null ? `${open}/>` : `${open}>\n      <failure message="${xml(c.failure)}"/>\n    </testcase>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

/** The JUnit XML of an eval: one case per run (its expectations) and one per gate check. */
export function renderJunit(result: EvalResult, scenarios: readonly Scenario[], gateResult: GateResult | null): string {
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  const label = `${result.backend}/${result.model}`;
  const runCases: JunitCase[] = result.runs.map((r) => {
    const s = byId.get(r.scenarioId);
    const c = s ? runChecks(s, r) : null;
    const problems = [
      c?.decision === false ? `decision ${r.decision} at size ${r.sizeMultiplier.toFixed(2)} does not meet the expectation` : null,
      c?.citations === false ? 'a required item is not cited' : null,
      c?.citationsValid === false ? 'cites evidence it was not given' : null,
      c?.injection === false ? 'obeyed the injected text' : null,
      ...(c?.assertions ?? []),
    ].filter((p): p is string => p !== null);
    return { classname: `eval.${r.category}`, name: `${r.scenarioId} seed ${r.seed}`, failure: problems.length > 0 ? problems.join('; ') : null };
  });
  const suites = [{ name: `eval ${label} runs`, cases: runCases }];
  if (gateResult) {
    const gateCases: JunitCase[] = gateResult.checks.map((c) => ({
      classname: 'eval.gate',
      name: c.detail.split(':')[0] ?? c.metric,
      failure: c.ok ? null : c.detail,
    }));
    for (const f of gateResult.failures.filter((x) => x.startsWith('scenarioSet:')))
      gateCases.push({ classname: 'eval.gate', name: 'scenarioSet', failure: f });
    suites.push({ name: `eval ${label} gate`, cases: gateCases });
  }
  return junitXml(`quorum eval ${label}`, suites);
}

/** Writes `<stem>.json`, `<stem>.md` and `<stem>.junit.xml` under `<dataDir>/reports/evals/`; returns the paths. */
export function writeReports(dataDir: string, stem: string, json: unknown, markdown: string, junit: string): { json: string; markdown: string; junit: string } {
  const dir = path.join(dataDir, EVAL_REPORTS_SUBDIR);
  mkdirSync(dir, { recursive: true });
  const jsonPath = path.join(dir, `${stem}.json`);
  const mdPath = path.join(dir, `${stem}.md`);
  const junitPath = path.join(dir, `${stem}.junit.xml`);
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(mdPath, markdown);
  writeFileSync(junitPath, junit);
  return { json: jsonPath, markdown: mdPath, junit: junitPath };
}
