/**
 * Probability calibration of a binary classifier: the Brier score, Platt scaling (a logistic fit on the
 * logit of the raw probability) and isotonic regression (pool-adjacent-violators), fitted on
 * out-of-fold predictions and stored in the model card. The proposer applies the stored map to the
 * model's probabilities; TreeSHAP keeps explaining the raw margin.
 */
import { z } from 'zod';

/** Mean squared difference between probability and label. */
export function brierScore(p: readonly number[], y: readonly number[]): number {
  if (p.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < p.length; i++) s += ((p[i] ?? 0) - (y[i] ?? 0)) ** 2;
  return s / p.length;
}

/** Mean log loss, probabilities clipped to [1e-15, 1 - 1e-15]. */
export function logLoss(p: readonly number[], y: readonly number[]): number {
  if (p.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(Math.max(p[i] ?? 0.5, 1e-15), 1 - 1e-15);
    s -= (y[i] ?? 0) * Math.log(q) + (1 - (y[i] ?? 0)) * Math.log(1 - q);
  }
  return s / p.length;
}

export const PlattCalibration = z
  .object({
    method: z.literal('platt'),
    /** p' = σ(a · logit(p) + b). */
    a: z.number(),
    b: z.number(),
  })
  .strict();

/**
 * Isotonic map as blocks: raw probabilities in [lower[k], upper[k]] map to value[k]; between two blocks
 * the value is interpolated linearly; below the first and above the last block it is held.
 */
export const IsotonicCalibration = z
  .object({
    method: z.literal('isotonic'),
    lower: z.array(z.number()).min(1),
    upper: z.array(z.number()).min(1),
    value: z.array(z.number().min(0).max(1)).min(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.lower.length !== c.value.length || c.upper.length !== c.value.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: `lower, upper and value differ in length (${c.lower.length}, ${c.upper.length}, ${c.value.length})`,
      });
    }
    for (let k = 0; k < c.value.length; k++) {
      const lo = c.lower[k] ?? 0;
      const hi = c.upper[k] ?? 0;
      if (lo > hi) ctx.addIssue({ code: 'custom', path: ['lower', k], message: `block ${k} has lower ${lo} above upper ${hi}` });
      if (k > 0 && ((c.value[k] ?? 0) < (c.value[k - 1] ?? 0) || lo <= (c.upper[k - 1] ?? 0))) {
        ctx.addIssue({ code: 'custom', path: ['value', k], message: `block ${k} is not above block ${k - 1} (the map must be increasing)` });
      }
    }
  });

export const CalibrationMap = z.discriminatedUnion('method', [PlattCalibration, IsotonicCalibration]);
export type CalibrationMap = z.infer<typeof CalibrationMap>;

export const CalibrationMethod = z.enum(['none', 'platt', 'isotonic']);
export type CalibrationMethod = z.infer<typeof CalibrationMethod>;

/** The calibration stored in a model card: the map and what it did on the predictions it was fitted on. */
export const CardCalibration = z
  .object({
    map: CalibrationMap,
    /** Out-of-fold predictions of the walk-forward folds it was fitted on. */
    fittedOn: z.object({ rows: z.number().int().min(1), folds: z.array(z.number().int().min(1)) }).strict(),
    brierRaw: z.number(),
    brierCalibrated: z.number(),
    logLossRaw: z.number(),
    logLossCalibrated: z.number(),
  })
  .strict();
export type CardCalibration = z.infer<typeof CardCalibration>;

const logit = (p: number): number => {
  const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  return Math.log(q / (1 - q));
};
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Platt scaling: a and b minimising the log loss of σ(a · logit(p) + b) by Newton's method (the loss
 * is convex in (a, b)); starts from the identity (a = 1, b = 0), so the fitted loss is never above it.
 */
export function fitPlatt(p: readonly number[], y: readonly number[]): z.infer<typeof PlattCalibration> {
  const x = p.map(logit);
  let a = 1;
  let b = 0;
  const loss = (a_: number, b_: number): number =>
    logLoss(
      x.map((v) => sigmoid(a_ * v + b_)),
      y,
    );
  let current = loss(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-9;
    let hab = 0;
    let hbb = 1e-9;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] ?? 0;
      const q = sigmoid(a * xi + b);
      const r = q - (y[i] ?? 0);
      const w = q * (1 - q);
      ga += r * xi;
      gb += r;
      haa += w * xi * xi;
      hab += w * xi;
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(Math.abs(det) > 1e-18)) break;
    let da = (hbb * ga - hab * gb) / det;
    let db = (haa * gb - hab * ga) / det;
    // Backtracking: a step that does not lower the loss is halved.
    let step = 1;
    let next = loss(a - da, b - db);
    while (next > current && step > 1e-6) {
      step /= 2;
      da /= 2;
      db /= 2;
      next = loss(a - da, b - db);
    }
    if (next > current) break;
    a -= da;
    b -= db;
    const gain = current - next;
    current = next;
    if (gain < 1e-12) break;
  }
  return { method: 'platt', a, b };
}

/**
 * Isotonic regression by pool-adjacent-violators: the non-decreasing step function of p closest to y
 * in squared error (equal p pooled first). On the fitting data it gives each row its block's mean
 * label, so its Brier score is at most the raw one (the identity is itself non-decreasing).
 */
export function fitIsotonic(p: readonly number[], y: readonly number[]): z.infer<typeof IsotonicCalibration> {
  const order = p.map((v, i) => i).sort((i, j) => (p[i] ?? 0) - (p[j] ?? 0));
  const blocks: Array<{ lower: number; upper: number; sum: number; n: number }> = [];
  for (const i of order) {
    const v = p[i] ?? 0;
    const last = blocks[blocks.length - 1];
    if (last && last.upper === v) {
      last.sum += y[i] ?? 0;
      last.n += 1;
    } else blocks.push({ lower: v, upper: v, sum: y[i] ?? 0, n: 1 });
    // Pool while the last two blocks violate monotonicity.
    for (;;) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (!a || !b || a.sum / a.n < b.sum / b.n) break;
      blocks.splice(blocks.length - 2, 2, { lower: a.lower, upper: b.upper, sum: a.sum + b.sum, n: a.n + b.n });
    }
  }
  return { method: 'isotonic', lower: blocks.map((b) => b.lower), upper: blocks.map((b) => b.upper), value: blocks.map((b) => b.sum / b.n) };
}

/** The calibrated probability of a raw probability. */
export function applyCalibration(map: CalibrationMap, p: number): number {
  if (map.method === 'platt') return sigmoid(map.a * logit(p) + map.b);
  const { lower, upper, value } = map;
  const n = value.length;
  if (p <= (upper[0] ?? 0)) return value[0] ?? p;
  if (p >= (lower[n - 1] ?? 1)) return value[n - 1] ?? p;
  // First block whose upper bound is >= p (binary search).
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((upper[mid] ?? 0) < p) lo = mid + 1;
    else hi = mid;
  }
  const l = lower[lo] ?? 0;
  if (p >= l) return value[lo] ?? p;
  // Between block lo-1 (ends below p) and block lo (starts above p).
  const x0 = upper[lo - 1] ?? 0;
  const v0 = value[lo - 1] ?? 0;
  const v1 = value[lo] ?? 0;
  return v0 + ((v1 - v0) * (p - x0)) / (l - x0);
}

/** Fits `method` on raw out-of-fold probabilities and reports what it does on them; null for 'none'. */
export function fitCalibration(method: CalibrationMethod, p: readonly number[], y: readonly number[], folds: readonly number[]): CardCalibration | null {
  if (method === 'none' || p.length === 0) return null;
  const map = method === 'platt' ? fitPlatt(p, y) : fitIsotonic(p, y);
  const q = p.map((v) => applyCalibration(map, v));
  return {
    map,
    fittedOn: { rows: p.length, folds: [...folds] },
    brierRaw: brierScore(p, y),
    brierCalibrated: brierScore(q, y),
    logLossRaw: logLoss(p, y),
    logLossCalibrated: logLoss(q, y),
  };
}
