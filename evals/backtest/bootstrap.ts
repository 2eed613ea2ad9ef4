/**
 * Bootstrap resampling for the backtest's confidence intervals.
 *
 * Daily returns are not independent: volatility clusters and returns carry some autocorrelation, so
 * drawing days one by one would understate the spread of Sharpe, drawdown and CAGR. The stationary
 * bootstrap (Politis & Romano, 1994) draws blocks of consecutive days whose lengths are geometric with
 * a chosen mean, wrapping round the end; it keeps the short-range dependence inside blocks and, unlike
 * fixed blocks, gives a stationary resampled series. Trades and vetoes are separate events, so they
 * are resampled one by one (iid). Intervals are percentile intervals of the resampled statistic.
 */
import { quantile } from '../scorers.ts';
import { randomIndex, type Rng } from '../../contracts/random.ts';

/**
 * The default mean block length for `n` daily observations: ceil(n^(1/3)). n^(1/3) is the
 * rate-optimal order of the block length for variance and distribution estimation (Hall, Horowitz
 * & Jing, 1995); for a six-year backtest (~1,500 days) it gives 12 days, longer than the few days over
 * which daily equity returns are autocorrelated and about the span of a volatility burst, while still
 * leaving ~125 blocks to recombine.
 */
export function defaultBlockLength(n: number): number {
  return Math.max(1, Math.ceil(Math.cbrt(Math.max(1, n))));
}

/**
 * Indices 0..n-1 of one stationary-bootstrap resample of a series of length `n`: each position
 * continues the current block (wrapping) with probability 1 - 1/meanBlock, else starts a new block
 * at a uniform random day.
 */
export function stationaryIndices(n: number, meanBlock: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  if (n === 0) return out;
  const pNew = 1 / Math.max(1, meanBlock);
  let at = randomIndex(rng, n);
  out[0] = at;
  for (let i = 1; i < n; i++) {
    at = rng() < pNew ? randomIndex(rng, n) : (at + 1) % n;
    out[i] = at;
  }
  return out;
}

/** Indices of one iid resample (with replacement) of `n` items. */
export function iidIndices(n: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = randomIndex(rng, n);
  return out;
}

/** A two-sided percentile interval. */
export interface Interval {
  lo: number | null;
  hi: number | null;
}

/**
 * The central `confidence` percentile interval of resampled statistics. A resample whose statistic is
 * undefined (null or not finite, e.g. a zero-variance resample for Sharpe) is left out; when more than
 * half are undefined the interval is null rather than a range built on a biased few.
 */
export function percentileInterval(stats: readonly (number | null)[], confidence: number): Interval {
  const defined = stats.filter((s): s is number => s !== null && Number.isFinite(s));
  if (defined.length === 0 || defined.length * 2 < stats.length) return { lo: null, hi: null };
  const tail = (1 - confidence) / 2;
  return { lo: quantile(defined, tail), hi: quantile(defined, 1 - tail) };
}
