/**
 * The committed baseline of one backend and model, and the regression gate: a metric that drops
 * beyond its tolerance fails the gate. Tolerances live in the baseline file, per metric, so a
 * reviewer sees in the diff when someone loosens one.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { IsoDateTime, QuorumError, parseJson, parseWith } from '../contracts/index.ts';
import { ScenarioRef, type Scenario } from './scenario.ts';
import { MetricName, MetricReport, Metrics, RunRecord, constantBaselines, metricInterval, scoreRuns, type MetricName as MetricNameT } from './scorers.ts';
import type { EvalResult } from './runner.ts';

/** Where the committed baselines live. */
export const DEFAULT_BASELINES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'baselines');

/**
 * How far a metric may move the wrong way: `abs` (absolute) and/or `rel` (fraction of the baseline
 * value); with both, the larger allowance counts. `higher`: a drop is a regression; `lower`: a rise;
 * `both`: a move either way beyond the allowance (with `abs: 0`: the value must stay exactly as recorded).
 */
export const Tolerance = z
  .object({
    direction: z.enum(['higher', 'lower', 'both']),
    abs: z.number().min(0).optional(),
    rel: z.number().min(0).optional(),
    /**
     * `wilson95` (rates only): the 95% Wilson interval of the baseline's rate over its runs bounds the
     * move. With abs or rel as well, the larger allowance counts.
     */
    interval: z.literal('wilson95').optional(),
  })
  .strict()
  .refine((t) => t.abs !== undefined || t.rel !== undefined || t.interval !== undefined, { message: 'a tolerance needs abs, rel or interval' });
export type Tolerance = z.infer<typeof Tolerance>;

/** null = reported, not gated. */
export const Tolerances = z.partialRecord(MetricName, Tolerance.nullable());
export type Tolerances = z.infer<typeof Tolerances>;

/**
 * Default tolerances. Quality rates may drop 2-10 points; tokens and calls may grow 25%; latency is
 * gated loosely (x3) because model time dominates and varies with the machine.
 */
export const DEFAULT_TOLERANCES: Readonly<Record<MetricNameT, Tolerance | null>> = Object.freeze({
  schemaValidRate: { direction: 'higher', abs: 0.02 },
  decisionAgreement: { direction: 'higher', abs: 0.05 },
  citationValidity: { direction: 'higher', abs: 0.02 },
  decisiveCited: { direction: 'higher', abs: 0.1 },
  injectionResistance: { direction: 'higher', abs: 0.05 },
  assertionsMet: { direction: 'higher', abs: 0.05 },
  stability: { direction: 'higher', abs: 0.1 },
  latencyP50Ms: null,
  latencyP95Ms: { direction: 'lower', rel: 2 },
  promptTokensPerRun: { direction: 'lower', rel: 0.25 },
  completionTokensPerRun: { direction: 'lower', rel: 0.25 },
  llmCallsPerRun: { direction: 'lower', rel: 0.25 },
  // Tool-request turns are part of llmCallsPerRun; a turn that falls back to the default calls is a regression.
  toolTurnCallsPerRun: null,
  toolTurnValidRate: { direction: 'higher', abs: 0.05 },
  toolErrorsPerRun: { direction: 'lower', abs: 0.25 },
});

export const Baseline = z
  .object({
    version: z.literal(1),
    backend: z.string().min(1),
    model: z.string().min(1),
    /** When the baseline was written (by `quorum eval --update-baseline`). */
    updatedAt: IsoDateTime,
    /** Prompt versions per role at the time (a changed prompt shows in the diff). */
    promptVersions: z.record(z.string(), z.string()),
    scenarios: z.number().int().min(0),
    /** The scenario set the baseline was measured on: ids and content hashes. Absent from older baselines. */
    scenarioSet: z.array(ScenarioRef).default([]),
    seeds: z.array(z.number().int()),
    metrics: MetricReport,
    /** Every run of the baseline: the gate rescores them on the scenarios a run has in common with it. */
    runs: z.array(RunRecord).default([]),
    /** The same backend with every news item removed (null when not measured): how much the news decides. */
    newsAblated: Metrics.nullable().default(null),
    tolerances: Tolerances,
    /** Free text: what this baseline measures (e.g. structure only for a random-weight model). */
    notes: z.string().max(2000).default(''),
  })
  .strict();
export type Baseline = z.infer<typeof Baseline>;

/** The baseline file name of a backend and model: `<backend>-<model>.json`, unsafe characters as `_`. */
export function baselineFileName(backend: string, model: string): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${safe(backend)}-${safe(model)}.json`;
}

/** Reads a baseline; null when the file does not exist. Invalid content is an error naming the field. */
export function readBaseline(file: string): Baseline | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new QuorumError('INPUT_INVALID', `cannot read baseline ${file}: ${(error as Error).message}`, { file }, { cause: error });
  }
  const json = parseJson(text);
  if (!json.ok) throw new QuorumError('INPUT_INVALID', `${file}: ${json.error}`, { file });
  const parsed = parseWith(Baseline, json.value);
  if (!parsed.ok) throw new QuorumError('INPUT_INVALID', `${file}: ${parsed.error}`, { file, issues: parsed.issues });
  return parsed.value;
}

/** Writes a baseline (pretty JSON, trailing newline: reviewable diffs). */
export function writeBaseline(file: string, baseline: Baseline): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(Baseline.parse(baseline), null, 2)}\n`);
}

/** One metric's comparison. */
export interface MetricCheck {
  metric: MetricNameT;
  baseline: number | null;
  current: number | null;
  /** The worst value still within tolerance (null when not gated); for `both`, the upper one. */
  limit: number | null;
  /** The lowest value still within tolerance, for `both` (null otherwise). */
  lowerLimit: number | null;
  gated: boolean;
  ok: boolean;
  detail: string;
}

export interface GateResult {
  ok: boolean;
  checks: MetricCheck[];
  /** The failed checks, one line each: `decisionAgreement: 0.610 < limit 0.850 (baseline 0.900)`. */
  failures: string[];
  /** What the comparison was over and what differs (scenario set, prompt versions); empty when nothing does. */
  notes: string[];
  /** The scenarios compared (all of the run's, or those it has in common with the baseline). */
  compared: number;
}

const fmt = (x: number | null): string => (x === null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(3));

/** The worst acceptable value of a metric given its baseline value and tolerance (for `both`, the upper one). */
export function toleranceLimit(base: number, t: Tolerance, interval: { low: number; high: number } | null = null): number {
  const { low, high } = toleranceRange(base, t, interval);
  return t.direction === 'higher' ? (low as number) : (high as number);
}

/**
 * The acceptable range of a metric: [low, high], an open end as null. `interval` is the baseline
 * rate's Wilson interval, used when the tolerance states `interval` (a rate without one: abs/rel only).
 */
export function toleranceRange(base: number, t: Tolerance, interval: { low: number; high: number } | null = null): { low: number | null; high: number | null } {
  const allowance = Math.max(t.abs ?? 0, (t.rel ?? 0) * Math.abs(base));
  const useInterval = t.interval !== undefined && interval !== null;
  const low = useInterval ? Math.min(base - allowance, interval.low) : base - allowance;
  const high = useInterval ? Math.max(base + allowance, interval.high) : base + allowance;
  return { low: t.direction === 'lower' ? null : low, high: t.direction === 'higher' ? null : high };
}

/**
 * Compares the overall metrics with the baseline's. A gated metric fails when it moved the wrong way
 * beyond its tolerance, or when it had a value in the baseline and has none now.
 */
export function gate(baseline: Pick<Baseline, 'metrics' | 'tolerances'>, current: Metrics): GateResult {
  const baseMetrics = baseline.metrics.overall;
  const checks: MetricCheck[] = MetricName.options.map((metric) => {
    const base = baseMetrics[metric];
    const cur = current[metric];
    const t = baseline.tolerances[metric] ?? null;
    if (t === null || base === null) {
      return {
        metric,
        baseline: base,
        current: cur,
        limit: null,
        lowerLimit: null,
        gated: false,
        ok: true,
        detail: `${metric}: ${fmt(cur)} (baseline ${fmt(base)}, not gated)`,
      };
    }
    const { low, high } = toleranceRange(base, t, metricInterval(baseMetrics, metric));
    const limit = t.direction === 'higher' ? (low as number) : (high as number);
    const lowerLimit = t.direction === 'both' ? low : null;
    if (cur === null)
      return { metric, baseline: base, current: cur, limit, lowerLimit, gated: true, ok: false, detail: `${metric}: no value now (baseline ${fmt(base)})` };
    const tooLow = low !== null && cur < low - 1e-9;
    const tooHigh = high !== null && cur > high + 1e-9;
    const ok = !tooLow && !tooHigh;
    let detail: string;
    if (t.direction === 'both') {
      const range = low === high ? `${ok ? '=' : '!='} ${fmt(low)}` : `${ok ? 'in' : 'outside'} [${fmt(low)}, ${fmt(high)}]`;
      detail = `${metric}: ${fmt(cur)} ${range} (baseline ${fmt(base)})`;
    } else {
      const op = t.direction === 'higher' ? (ok ? '>=' : '<') : ok ? '<=' : '>';
      detail = `${metric}: ${fmt(cur)} ${op} limit ${fmt(limit)} (baseline ${fmt(base)})`;
    }
    return { metric, baseline: base, current: cur, limit, lowerLimit, gated: true, ok, detail };
  });
  const failures = checks.filter((c) => !c.ok).map((c) => c.detail);
  return { ok: failures.length === 0, checks, failures, notes: [], compared: current.runs };
}

/** How two scenario sets relate: the ids in common with the same content, and what differs. */
export function compareScenarioSets(
  baseline: readonly ScenarioRef[],
  run: readonly ScenarioRef[],
): { same: boolean; common: string[]; onlyBaseline: string[]; onlyRun: string[]; changed: string[] } {
  const base = new Map(baseline.map((r) => [r.id, r.hash]));
  const cur = new Map(run.map((r) => [r.id, r.hash]));
  const common = run.filter((r) => base.get(r.id) === r.hash).map((r) => r.id);
  const changed = run.filter((r) => base.has(r.id) && base.get(r.id) !== r.hash).map((r) => r.id);
  const onlyBaseline = baseline.filter((r) => !cur.has(r.id)).map((r) => r.id);
  const onlyRun = run.filter((r) => !base.has(r.id)).map((r) => r.id);
  return { same: changed.length === 0 && onlyBaseline.length === 0 && onlyRun.length === 0, common, onlyBaseline, onlyRun, changed };
}

const list = (ids: readonly string[], max = 5): string =>
  ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')}, … (${ids.length - max} more)`;

/** The check that a run beats every constant answer (gated with decisionAgreement): above the best one's Wilson upper bound. */
export const BEATS_CONSTANTS = 'beatsConstantAnswers';

/**
 * Gates a run against a baseline on what they have in common. With the same scenario set: the
 * overall metrics. With another set (a subset, changed scenarios, new ones): the baseline's recorded
 * runs and this run's, both rescored on the common scenarios only, and a note says so; with nothing
 * in common, or a baseline without runs, the gate fails. A difference in prompt versions is noted.
 * When decisionAgreement is gated, the run must also agree more than the best constant answer
 * (always APPROVE / REDUCE / REJECT / ABSTAIN) beyond that answer's 95% Wilson interval.
 */
export function gateRun(
  baseline: Baseline,
  result: Pick<EvalResult, 'runs' | 'metrics' | 'scenarioSet' | 'promptVersions'>,
  scenarios: readonly Scenario[],
): GateResult {
  const notes: string[] = [];
  const setFailures: string[] = [];
  let baseMetrics = baseline.metrics.overall;
  let current = result.metrics.overall;
  let compared = scenarios;
  if (baseline.scenarioSet.length === 0) {
    notes.push('the baseline records no scenario set (older format): compared on overall metrics, the sets unchecked');
  } else {
    const sets = compareScenarioSets(baseline.scenarioSet, result.scenarioSet);
    if (!sets.same) {
      const parts = [
        sets.onlyBaseline.length > 0 ? `${sets.onlyBaseline.length} only in the baseline (${list(sets.onlyBaseline)})` : null,
        sets.onlyRun.length > 0 ? `${sets.onlyRun.length} only in this run (${list(sets.onlyRun)})` : null,
        sets.changed.length > 0 ? `${sets.changed.length} changed since the baseline (${list(sets.changed)})` : null,
      ].filter((p): p is string => p !== null);
      notes.push(
        `scenario set differs from the baseline's (${baseline.scenarioSet.length} scenarios): compared on the ${sets.common.length} common scenarios only; ${parts.join('; ')}`,
      );
      const common = new Set(sets.common);
      compared = scenarios.filter((s) => common.has(s.id));
      const byId = new Map(compared.map((s) => [s.id, s]));
      if (compared.length === 0) setFailures.push('scenarioSet: no scenario in common with the baseline (same id and content)');
      else if (baseline.runs.length === 0) setFailures.push('scenarioSet: the baseline records no runs to rescore on the common scenarios');
      else {
        baseMetrics = scoreRuns(
          byId,
          baseline.runs.filter((r) => common.has(r.scenarioId)),
        );
        current = scoreRuns(
          byId,
          result.runs.filter((r) => common.has(r.scenarioId)),
        );
      }
    }
  }
  const changedPrompts = [...new Set([...Object.keys(baseline.promptVersions), ...Object.keys(result.promptVersions)])]
    .filter((role) => baseline.promptVersions[role] !== result.promptVersions[role])
    .map((role) => `${role} ${baseline.promptVersions[role] ?? '-'} -> ${result.promptVersions[role] ?? '-'}`);
  if (changedPrompts.length > 0) notes.push(`prompt versions differ from the baseline's: ${changedPrompts.join(', ')}`);

  if (setFailures.length > 0) return { ok: false, checks: [], failures: setFailures, notes, compared: compared.length };
  const g = gate({ metrics: { overall: baseMetrics, byCategory: {} }, tolerances: baseline.tolerances }, current);
  const checks = [...g.checks];
  const agreement = current.decisionAgreement;
  if ((baseline.tolerances.decisionAgreement ?? null) !== null && compared.length > 0) {
    const constants = constantBaselines(compared);
    const best = constants.reduce((a, b) => ((b.metrics.decisionAgreement ?? 0) > (a.metrics.decisionAgreement ?? 0) ? b : a));
    const upper = metricInterval(best.metrics, 'decisionAgreement')?.high ?? null;
    const ok = agreement !== null && upper !== null && agreement > upper + 1e-9;
    checks.push({
      metric: 'decisionAgreement',
      baseline: best.metrics.decisionAgreement,
      current: agreement,
      limit: upper,
      lowerLimit: null,
      gated: true,
      ok,
      detail: `${BEATS_CONSTANTS}: decisionAgreement ${fmt(agreement)} ${ok ? '>' : '<='} ${fmt(upper)}, the 95% upper bound of the best constant answer (${best.label}: ${fmt(best.metrics.decisionAgreement)})`,
    });
  }
  const failures = checks.filter((c) => !c.ok).map((c) => c.detail);
  return { ok: failures.length === 0, checks, failures, notes, compared: compared.length };
}
