/**
 * Drift of the model's inputs and outputs: per feature, the population stability index (PSI, decile
 * bins of the reference) and the two-sample Kolmogorov–Smirnov statistic of a recent window against
 * the training sample stored with the model card; the same for the predicted probabilities; the
 * abstain rate; and a health score in [0, 1] with thresholds from settings.drift.
 */
import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import type { Settings } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { barsAsOf } from '../market/index.ts';
import { computeFeatureColumns, type FeatureName } from './features.ts';
import type { Proposer } from './proposer.ts';

export type DriftSettings = Settings['drift'];

const EPS = 1e-4;

/** PSI of `recent` against `reference`: Σ (r - e)·ln(r / e) over the reference's quantile bins. */
export function psi(reference: readonly number[], recent: readonly number[], bins = 10): number {
  if (reference.length === 0 || recent.length === 0) return Number.NaN;
  const sorted = [...reference].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const e = sorted[Math.floor((k * sorted.length) / bins)] ?? 0;
    if (edges.length === 0 || e > (edges[edges.length - 1] ?? -Infinity)) edges.push(e);
  }
  const share = (values: readonly number[]): number[] => {
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (const v of values) {
      let lo = 0;
      let hi = edges.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((edges[mid] ?? 0) <= v) lo = mid + 1;
        else hi = mid;
      }
      counts[lo] = (counts[lo] ?? 0) + 1;
    }
    return counts.map((c) => Math.max(c / values.length, EPS));
  };
  const e = share(reference);
  const r = share(recent);
  return r.reduce((s, ri, i) => s + (ri - (e[i] ?? EPS)) * Math.log(ri / (e[i] ?? EPS)), 0);
}

/** Two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs. */
export function ks(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) return Number.NaN;
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i] ?? 0, y[j] ?? 0);
    while (i < x.length && (x[i] ?? 0) <= v) i++;
    while (j < y.length && (y[j] ?? 0) <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

export const FeatureDrift = z.object({ feature: z.string(), psi: z.number(), ks: z.number(), drifted: z.boolean() }).strict();
export const DriftReport = z
  .object({
    modelId: z.string(),
    modelVersion: z.string(),
    asOf: z.string(),
    windowStart: z.string(),
    recentRows: z.number().int(),
    referenceRows: z.number().int(),
    features: z.array(FeatureDrift),
    prediction: z.object({ psi: z.number(), ks: z.number(), meanReference: z.number(), meanRecent: z.number() }).strict(),
    /** Share of recent rows inside the abstain margin. */
    abstainRate: z.number(),
    /** 1 = no drift; below settings.drift.minHealthScore the model is unhealthy and should abstain. */
    healthScore: z.number().min(0).max(1),
    healthy: z.boolean(),
    reasons: z.array(z.string()),
  })
  .strict();
export type DriftReport = z.infer<typeof DriftReport>;

/** 1 below `warn`, 0 at or above `alert`, linear between. */
function ramp(v: number, warn: number, alert: number): number {
  if (!Number.isFinite(v)) return 0;
  if (v <= warn) return 1;
  if (v >= alert) return 0;
  return (alert - v) / (alert - warn);
}

export interface DriftInput {
  proposer: Proposer;
  /** Recent feature rows in card feature order, with their dates. */
  recent: ReadonlyArray<{ date: string; row: readonly number[] }>;
  asOf: string;
  drift: DriftSettings;
  abstainMargin: number;
}

/**
 * The drift report of `recent` against the card's training sample. Health score: the mean over
 * features of ramp(PSI) · ramp(KS), times ramp of the prediction PSI.
 */
export async function driftReport(input: DriftInput): Promise<DriftReport> {
  const { proposer, drift } = input;
  const card = proposer.card;
  const reference = card.trainingSample?.rows;
  if (!reference)
    throw new QuorumError('INPUT_INVALID', `model ${card.modelId}@${card.version}: the card has no trainingSample to measure drift against`, {
      field: 'trainingSample',
    });
  if (input.recent.length === 0)
    throw new QuorumError('NOT_FOUND', `no feature rows in the ${drift.windowDays}-bar window before ${input.asOf}`, { field: 'asOf' });
  const recentRows = input.recent.map((r) => r.row);
  const features = card.input.features.map((feature, j) => {
    const a = reference.map((r) => r[j] ?? 0);
    const b = recentRows.map((r) => r[j] ?? 0);
    const p = psi(a, b, drift.bins);
    const k = ks(a, b);
    return { feature, psi: p, ks: k, drifted: p >= drift.psiAlert || k >= drift.ksAlert };
  });
  const [refProbs, recentProbs] = [await proposer.predict(reference), await proposer.predict(recentRows)];
  const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);
  const prediction = {
    psi: psi(refProbs, recentProbs, drift.bins),
    ks: ks(refProbs, recentProbs),
    meanReference: mean(refProbs),
    meanRecent: mean(recentProbs),
  };
  const abstainRate = recentProbs.filter((p) => Math.abs(p - 0.5) <= input.abstainMargin).length / recentProbs.length;
  const featureScore = mean(features.map((f) => ramp(f.psi, drift.psiWarn, drift.psiAlert) * ramp(f.ks, drift.ksWarn, drift.ksAlert)));
  const healthScore = Math.min(1, Math.max(0, featureScore * ramp(prediction.psi, drift.psiWarn, drift.psiAlert)));
  const healthy = healthScore >= drift.minHealthScore;
  const reasons = [
    ...features.filter((f) => f.drifted).map((f) => `${f.feature}: PSI ${f.psi.toFixed(3)}, KS ${f.ks.toFixed(3)}`),
    ...(prediction.psi >= drift.psiAlert ? [`predictions: PSI ${prediction.psi.toFixed(3)}`] : []),
  ];
  return {
    modelId: card.modelId,
    modelVersion: card.version,
    asOf: input.asOf,
    windowStart: input.recent[0]?.date ?? input.asOf,
    recentRows: recentRows.length,
    referenceRows: reference.length,
    features,
    prediction,
    abstainRate,
    healthScore,
    healthy,
    reasons,
  };
}

/** Feature rows of `tickers` over the last `drift.windowDays` bars at or before asOf (point in time). */
export async function recentFeatureRows(
  db: Db,
  options: { asOf: string; tickers: readonly string[]; features: readonly string[]; windowDays: number },
): Promise<Array<{ date: string; row: number[] }>> {
  const out: Array<{ date: string; row: number[] }> = [];
  for (const ticker of [...options.tickers].sort()) {
    const bars = await barsAsOf(db, { ticker, asOf: options.asOf });
    const cols = computeFeatureColumns(bars);
    for (let i = Math.max(0, bars.length - options.windowDays); i < bars.length; i++) {
      const row = options.features.map((f) => cols.columns[f as FeatureName]?.[i] ?? Number.NaN);
      if (row.every(Number.isFinite)) out.push({ date: cols.ts[i] ?? '', row });
    }
  }
  return out.sort((a, b) => a.date.localeCompare(b.date));
}
