import { z } from 'zod';

/** One reliability bin: predictions in [lower, upper) and how often the label was 1. */
export const CalibrationBin = z
  .object({
    lower: z.number(),
    upper: z.number(),
    count: z.number().int().min(0),
    meanPredicted: z.number().nullable(),
    observedRate: z.number().nullable(),
  })
  .strict();
export type CalibrationBin = z.infer<typeof CalibrationBin>;

/** Classification metrics of probabilities `p` against labels `y` (threshold 0.5). */
export const ClassificationMetrics = z
  .object({
    n: z.number().int().min(0),
    baseRate: z.number(),
    accuracy: z.number(),
    /** Null when only one class is present. */
    auc: z.number().nullable(),
    logLoss: z.number(),
    /** Mean squared error of the probabilities (absent in cards written before it was reported). */
    brier: z.number().optional(),
    precision: z.number().nullable(),
    recall: z.number().nullable(),
    /** Share of predictions above 0.5. */
    positiveRate: z.number(),
    calibration: z.array(CalibrationBin),
  })
  .strict();
export type ClassificationMetrics = z.infer<typeof ClassificationMetrics>;

/** Reliability bins of the calibration table. */
export const CALIBRATION_BINS = 10;
const EPS = 1e-15;

/** ROC AUC by the rank-sum (Mann-Whitney) formula, ties averaged. */
export function rocAuc(p: readonly number[], y: readonly number[]): number | null {
  const pos = y.filter((v) => v === 1).length;
  const neg = y.length - pos;
  if (pos === 0 || neg === 0) return null;
  const order = p.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  let rankSumPos = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]?.[0] === order[i]?.[0]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (y[order[k]?.[1] ?? 0] === 1) rankSumPos += avgRank;
    i = j + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Accuracy, AUC, log loss, precision/recall and a reliability table. */
export function classificationMetrics(p: readonly number[], y: readonly number[]): ClassificationMetrics {
  const n = p.length;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let correct = 0;
  let ll = 0;
  let sq = 0;
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const pi = Math.min(Math.max(p[i] ?? 0.5, EPS), 1 - EPS);
    const yi = y[i] ?? 0;
    const pred = pi > 0.5 ? 1 : 0;
    if (pred === yi) correct++;
    if (pred === 1 && yi === 1) tp++;
    if (pred === 1 && yi === 0) fp++;
    if (pred === 0 && yi === 1) fn++;
    if (pred === 1) positives++;
    ll -= yi * Math.log(pi) + (1 - yi) * Math.log(1 - pi);
    sq += ((p[i] ?? 0.5) - yi) ** 2;
  }
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < CALIBRATION_BINS; b++) {
    const lower = b / CALIBRATION_BINS;
    const upper = (b + 1) / CALIBRATION_BINS;
    let count = 0;
    let sp = 0;
    let sy = 0;
    for (let i = 0; i < n; i++) {
      const pi = p[i] ?? 0;
      if (pi >= lower && (pi < upper || (b === CALIBRATION_BINS - 1 && pi <= upper))) {
        count++;
        sp += pi;
        sy += y[i] ?? 0;
      }
    }
    bins.push({ lower, upper, count, meanPredicted: count ? sp / count : null, observedRate: count ? sy / count : null });
  }
  return {
    n,
    baseRate: n ? y.reduce((s, v) => s + v, 0) / n : 0,
    accuracy: n ? correct / n : 0,
    auc: rocAuc(p, y),
    logLoss: n ? ll / n : 0,
    brier: n ? sq / n : 0,
    precision: tp + fp > 0 ? tp / (tp + fp) : null,
    recall: tp + fn > 0 ? tp / (tp + fn) : null,
    positiveRate: n ? positives / n : 0,
    calibration: bins,
  };
}
