/**
 * `quorum eval --compare A B`: two eval reports (two prompt versions, models or backends) side by
 * side, scenario by scenario: the decision, the size and the citations of each, whether each met the
 * scenario's expectations, and what changed. A scenario B fails where A met it is a regression.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { QuorumError, parseJson, parseWith } from '../contracts/index.ts';
import { junitXml, type JunitCase } from './report.ts';
import { EvalResult } from './runner.ts';
import type { Scenario } from './scenario.ts';
import { assertionFailures, decisionMeets, hasAssertions, hasDecisionExpectation, requiredCitations, type RunRecord } from './scorers.ts';

/** An eval report as `quorum eval` writes it (the result; the gate and other keys are ignored). */
const EvalReport = z.object(EvalResult.shape);

/** Reads the JSON report of a `quorum eval` run. */
export function readEvalReport(file: string): EvalResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new QuorumError(
      'INPUT_INVALID',
      `compare: cannot read eval report ${file}: ${(error as Error).message}`,
      { file, field: 'compare' },
      { cause: error },
    );
  }
  const json = parseJson(text);
  if (!json.ok) throw new QuorumError('INPUT_INVALID', `compare: ${file}: ${json.error}`, { file, field: 'compare' });
  const parsed = parseWith(EvalReport, json.value);
  if (!parsed.ok) throw new QuorumError('INPUT_INVALID', `compare: ${file} is not an eval report: ${parsed.error}`, { file, field: 'compare' });
  return parsed.value;
}

export interface SideOfRow {
  decision: string;
  size: number;
  citations: string[];
  /** Met every expectation of the scenario (null: the scenario is not in the loaded set). */
  ok: boolean | null;
  failures: string[];
}

export interface ComparisonRow {
  scenarioId: string;
  seed: number;
  a: SideOfRow | null;
  b: SideOfRow | null;
  /** What differs: `decision`, `size`, `citations`, `fixed`, `regressed`, `only in A`, `only in B`. */
  changes: string[];
}

export interface Comparison {
  a: { backend: string; model: string; promptVersions: Record<string, string>; scenarios: number };
  b: { backend: string; model: string; promptVersions: Record<string, string>; scenarios: number };
  /** What differs between the two runs' set-ups (backend, model, prompt versions per role). */
  differs: string[];
  rows: ComparisonRow[];
  /** Scenario runs both reports have; how many of them each met. */
  common: number;
  okA: number;
  okB: number;
  regressed: number;
  fixed: number;
  changed: number;
}

/** The expectation failures of one run (empty: it met them all). */
function failuresOf(s: Scenario, r: RunRecord): string[] {
  const out: string[] = [];
  if (hasDecisionExpectation(s.expect) && !decisionMeets(s.expect, r.decision, r.sizeMultiplier)) out.push('decision');
  const got = new Set(r.verdictCitations);
  if (requiredCitations(s.expect).some((id) => !got.has(id))) out.push('required citation');
  if (hasAssertions(s)) out.push(...assertionFailures(s, r));
  return out;
}

function side(r: RunRecord | undefined, s: Scenario | undefined): SideOfRow | null {
  if (!r) return null;
  const failures = s ? failuresOf(s, r) : [];
  return { decision: r.decision, size: r.sizeMultiplier, citations: [...r.verdictCitations].sort(), ok: s ? failures.length === 0 : null, failures };
}

/** Pairs the runs of A and B by scenario and seed; `scenarios` gives the expectations. */
export function compareReports(a: EvalResult, b: EvalResult, scenarios: readonly Scenario[]): Comparison {
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  const key = (r: RunRecord): string => `${r.scenarioId}\u0000${r.seed}`;
  const runsA = new Map(a.runs.map((r) => [key(r), r]));
  const runsB = new Map(b.runs.map((r) => [key(r), r]));
  const keys = [...new Set([...runsA.keys(), ...runsB.keys()])].sort();
  const rows: ComparisonRow[] = keys.map((k) => {
    const ra = runsA.get(k);
    const rb = runsB.get(k);
    const r = (ra ?? rb) as RunRecord;
    const s = byId.get(r.scenarioId);
    const sa = side(ra, s);
    const sb = side(rb, s);
    const changes: string[] = [];
    if (!sa) changes.push('only in B');
    else if (!sb) changes.push('only in A');
    else {
      if (sa.decision !== sb.decision) changes.push('decision');
      if (Math.abs(sa.size - sb.size) > 1e-9) changes.push('size');
      if (sa.citations.join(',') !== sb.citations.join(',')) changes.push('citations');
      if (sa.ok === true && sb.ok === false) changes.push('regressed');
      if (sa.ok === false && sb.ok === true) changes.push('fixed');
    }
    return { scenarioId: r.scenarioId, seed: r.seed, a: sa, b: sb, changes };
  });
  const both = rows.filter((r) => r.a && r.b);
  const roles = [...new Set([...Object.keys(a.promptVersions), ...Object.keys(b.promptVersions)])].sort();
  const differs = [
    a.backend !== b.backend ? `backend ${a.backend} -> ${b.backend}` : null,
    a.model !== b.model ? `model ${a.model} -> ${b.model}` : null,
    ...roles
      .filter((r) => a.promptVersions[r] !== b.promptVersions[r])
      .map((r) => `prompt ${r} ${a.promptVersions[r] ?? '-'} -> ${b.promptVersions[r] ?? '-'}`),
  ].filter((d): d is string => d !== null);
  const head = (e: EvalResult) => ({ backend: e.backend, model: e.model, promptVersions: e.promptVersions, scenarios: e.scenarios });
  return {
    a: head(a),
    b: head(b),
    differs,
    rows,
    common: both.length,
    okA: both.filter((r) => r.a?.ok === true).length,
    okB: both.filter((r) => r.b?.ok === true).length,
    regressed: rows.filter((r) => r.changes.includes('regressed')).length,
    fixed: rows.filter((r) => r.changes.includes('fixed')).length,
    changed: both.filter((r) => r.changes.length > 0).length,
  };
}

const cell = (s: SideOfRow | null): string =>
  s === null ? '-' : `${s.decision} ${s.size.toFixed(2)}${s.ok === null ? '' : s.ok ? ' ok' : ` FAIL (${s.failures.join('; ')})`}`;
const cites = (s: SideOfRow | null): string => (s === null ? '-' : s.citations.length === 0 ? 'none' : s.citations.join(' '));

/** The Markdown side-by-side of a comparison (also the CI summary). */
export function renderComparison(c: Comparison, labelA: string, labelB: string): string {
  const lines = [
    `# Eval comparison: A ${c.a.backend} / ${c.a.model} vs B ${c.b.backend} / ${c.b.model}`,
    '',
    `A: ${labelA}`,
    `B: ${labelB}`,
    '',
    `What differs: ${c.differs.length > 0 ? c.differs.join('; ') : 'nothing in backend, model or prompt versions'}.`,
    `${c.common} scenario runs in both: A met ${c.okA}, B met ${c.okB}; ${c.changed} changed, ${c.regressed} regressed (A met, B fails), ${c.fixed} fixed.`,
    '',
    '| scenario | seed | A | B | A cites | B cites | changed |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of c.rows)
    lines.push(`| ${r.scenarioId} | ${r.seed} | ${cell(r.a)} | ${cell(r.b)} | ${cites(r.a)} | ${cites(r.b)} | ${r.changes.join(', ') || '='} |`);
  lines.push('');
  return lines.join('\n');
}

/** JUnit XML of a comparison: one case per scenario run; B failing where A met the scenario is a failure. */
export function renderComparisonJunit(c: Comparison): string {
  const cases: JunitCase[] = c.rows.map((r) => ({
    classname: 'eval.compare',
    name: `${r.scenarioId} seed ${r.seed}`,
    failure: r.changes.includes('regressed') ? `regressed: A ${cell(r.a)}, B ${cell(r.b)}` : r.changes.includes('only in A') ? 'missing from B' : null,
  }));
  return junitXml(`quorum eval --compare ${c.a.backend}/${c.a.model} vs ${c.b.backend}/${c.b.model}`, [{ name: 'eval comparison', cases }]);
}
