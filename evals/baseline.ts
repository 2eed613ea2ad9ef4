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
import { MetricName, MetricReport, type MetricName as MetricNameT, type Metrics } from './scorers.ts';

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
  })
  .strict()
  .refine((t) => t.abs !== undefined || t.rel !== undefined, { message: 'a tolerance needs abs or rel' });
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
    seeds: z.array(z.number().int()),
    metrics: MetricReport,
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
}

const fmt = (x: number | null): string => (x === null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(3));

/** The worst acceptable value of a metric given its baseline value and tolerance (for `both`, the upper one). */
export function toleranceLimit(base: number, t: Tolerance): number {
  const allowance = Math.max(t.abs ?? 0, (t.rel ?? 0) * Math.abs(base));
  return t.direction === 'higher' ? base - allowance : base + allowance;
}

/** The acceptable range of a metric: [low, high], an open end as null. */
export function toleranceRange(base: number, t: Tolerance): { low: number | null; high: number | null } {
  const allowance = Math.max(t.abs ?? 0, (t.rel ?? 0) * Math.abs(base));
  return { low: t.direction === 'lower' ? null : base - allowance, high: t.direction === 'higher' ? null : base + allowance };
}

/**
 * Compares the overall metrics with the baseline's. A gated metric fails when it moved the wrong way
 * beyond its tolerance, or when it had a value in the baseline and has none now.
 */
export function gate(baseline: Pick<Baseline, 'metrics' | 'tolerances'>, current: Metrics): GateResult {
  const checks: MetricCheck[] = MetricName.options.map((metric) => {
    const base = baseline.metrics.overall[metric];
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
    const { low, high } = toleranceRange(base, t);
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
  return { ok: failures.length === 0, checks, failures };
}
