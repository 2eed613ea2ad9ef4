/**
 * Backtest metrics with bootstrap confidence intervals.
 *
 * Point estimates come from each strategy's daily book (CAGR, Sharpe, Sortino, max drawdown, turnover,
 * exposure), its closed trades (hit rate) and the committee's vetoes (veto precision). Intervals: a
 * stationary block bootstrap of the daily series for the first group, an iid bootstrap of trades and
 * vetoes for the others (see bootstrap.ts). A metric that is undefined (no trades, a flat curve, a
 * single day) is null, never NaN.
 */
import { z } from 'zod';
import { Finite, parseOrThrow } from '../../contracts/index.ts';
import { defaultBlockLength, iidIndices, percentileInterval, stationaryIndices } from './bootstrap.ts';
import { mulberry32, streamSeed, type Rng } from '../../contracts/random.ts';
import type { BacktestDay, BacktestMetrics, BacktestResult, BacktestTrade, BacktestVeto, Metric, StrategyMetrics, StrategyRun } from './schema.ts';

/** Trading days per year, for annualising daily Sharpe, Sortino and turnover. */
export const TRADING_DAYS_PER_YEAR = 252;
/** Days per calendar year, for CAGR over the calendar time of the run. */
export const CALENDAR_DAYS_PER_YEAR = 365.25;
/** Default number of bootstrap resamples per interval. */
export const DEFAULT_RESAMPLES = 1000;
/** Default two-sided level of the intervals. */
export const DEFAULT_CONFIDENCE = 0.95;
/** A standard deviation at or below this is treated as zero (a flat or constant-growth curve): the ratio is undefined. */
const ZERO_DISPERSION = 1e-12;
const DAY_MS = 86_400_000;

/** Options of {@link computeMetrics}. */
export const MetricsOptions = z
  .object({
    /** Seed of the bootstrap; the same seed gives the same intervals. */
    seed: z.number().int().min(0),
    resamples: z.number().int().min(1).max(100_000).default(DEFAULT_RESAMPLES),
    confidence: z.number().gt(0).lt(1).default(DEFAULT_CONFIDENCE),
    /** Mean block length in days; default ceil(n^(1/3)) of the longest strategy's daily series. */
    blockLength: z.number().int().min(1).optional(),
    /** Annual risk-free rate subtracted in Sharpe and Sortino; default 0. */
    riskFreeRate: Finite.refine((r) => r > -1, 'expected a rate above -1').default(0),
  })
  .strict();
export type MetricsOptions = z.input<typeof MetricsOptions>;

/** Simple daily returns of an equity series; a day after equity reached 0 returns 0 (nothing left to lose). */
export function dailyReturns(equity: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < equity.length; i++) {
    const prev = equity[i - 1] ?? 0;
    out.push(prev > 0 ? (equity[i] ?? 0) / prev - 1 : 0);
  }
  return out;
}

/** Calendar years between two `YYYY-MM-DD` dates. */
export function yearsBetween(from: string, to: string): number {
  return (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS / CALENDAR_DAYS_PER_YEAR;
}

/**
 * Compound annual growth of a total growth factor over `years`; -1 when everything was lost; null for
 * no time, or when the annualised figure overflows (a big move over a few days is no annual rate).
 */
export function cagrOf(growth: number, years: number): number | null {
  if (!(years > 0) || !Number.isFinite(growth)) return null;
  if (growth <= 0) return -1;
  const g = growth ** (1 / years) - 1;
  return Number.isFinite(g) ? g : null;
}

/** CAGR of a daily book over the calendar time between its first and last day. */
export function cagr(days: readonly BacktestDay[]): number | null {
  const first = days[0];
  const last = days[days.length - 1];
  if (!first || !last || days.length < 2 || first.equity <= 0) return null;
  return cagrOf(last.equity / first.equity, yearsBetween(first.date, last.date));
}

/** The daily rate equivalent to an annual risk-free rate. */
export function dailyRate(annual: number): number {
  return (1 + annual) ** (1 / TRADING_DAYS_PER_YEAR) - 1;
}

/** Annualised Sharpe ratio of daily returns (sample standard deviation); null with < 2 returns or no dispersion. */
export function sharpeOf(returns: readonly number[], riskFreeDaily = 0): number | null {
  const n = returns.length;
  if (n < 2) return null;
  let sum = 0;
  for (const r of returns) sum += r - riskFreeDaily;
  const mean = sum / n;
  let ss = 0;
  for (const r of returns) ss += (r - riskFreeDaily - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  return sd <= ZERO_DISPERSION ? null : (mean / sd) * Math.sqrt(TRADING_DAYS_PER_YEAR);
}

/**
 * Annualised Sortino ratio: mean daily excess return over the downside deviation, the root mean square
 * of min(excess, 0) over all days; null with < 2 returns or no losing day.
 */
export function sortinoOf(returns: readonly number[], riskFreeDaily = 0): number | null {
  const n = returns.length;
  if (n < 2) return null;
  let sum = 0;
  let down = 0;
  for (const r of returns) {
    const x = r - riskFreeDaily;
    sum += x;
    if (x < 0) down += x * x;
  }
  const dd = Math.sqrt(down / n);
  return dd <= ZERO_DISPERSION ? null : (sum / n / dd) * Math.sqrt(TRADING_DAYS_PER_YEAR);
}

/** Drawdown of each day from the running peak, a fraction in [-1, 0] (0 at a new high). */
export function drawdownSeries(equity: readonly number[]): number[] {
  let peak = 0;
  return equity.map((e) => {
    peak = Math.max(peak, e);
    return peak > 0 ? Math.min(0, e / peak - 1) : 0;
  });
}

/** The deepest drawdown, a negative fraction in [-1, 0] (-0.25: equity fell 25% below a previous peak); null for < 2 days. */
export function maxDrawdownOf(equity: readonly number[]): number | null {
  if (equity.length < 2) return null;
  let worst = 0;
  for (const d of drawdownSeries(equity)) worst = Math.min(worst, d);
  return worst;
}

/** Share of trades with pnl > 0; null without trades. */
export function hitRateOf(trades: readonly Pick<BacktestTrade, 'pnl'>[]): number | null {
  if (trades.length === 0) return null;
  return trades.filter((t) => t.pnl > 0).length / trades.length;
}

/** Share of vetoed proposals that would have lost; null without vetoes. */
export function vetoPrecisionOf(vetoes: readonly Pick<BacktestVeto, 'lost'>[]): number | null {
  if (vetoes.length === 0) return null;
  return vetoes.filter((v) => v.lost).length / vetoes.length;
}

function meanOf(xs: ArrayLike<number>, idx?: Int32Array): number | null {
  const n = idx ? idx.length : xs.length;
  if (n === 0) return null;
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[idx ? (idx[i] ?? 0) : i] ?? 0;
  return s / n;
}

interface ReturnStats {
  cagr: number | null;
  sharpe: number | null;
  sortino: number | null;
  maxDrawdown: number | null;
}

/** The return-based statistics of a (possibly resampled) sequence of daily returns, in one pass over an equity path starting at 1. */
function returnStats(returns: readonly number[], years: number, rfDaily: number): ReturnStats {
  const path = [1];
  let e = 1;
  for (const r of returns) {
    e *= 1 + r;
    path.push(e);
  }
  return {
    cagr: returns.length === 0 ? null : cagrOf(e, years),
    sharpe: sharpeOf(returns, rfDaily),
    sortino: sortinoOf(returns, rfDaily),
    maxDrawdown: maxDrawdownOf(path),
  };
}

function metric(value: number | null, lo: number | null, hi: number | null): Metric {
  // A point without an interval (or the reverse) would read as a precise number; keep them together.
  if (value === null) return { value: null, lo: null, hi: null };
  return { value, lo, hi };
}

/** Bootstraps `stat` over `resamples` draws and returns the point estimate with its percentile interval. */
function withInterval(value: number | null, resamples: number, confidence: number, draw: () => number | null): Metric {
  if (value === null) return metric(null, null, null);
  const stats: (number | null)[] = [];
  for (let b = 0; b < resamples; b++) stats.push(draw());
  const { lo, hi } = percentileInterval(stats, confidence);
  return metric(value, lo, hi);
}

interface Resolved {
  seed: number;
  resamples: number;
  confidence: number;
  blockLength: number;
  riskFreeRate: number;
}

function strategyMetrics(run: StrategyRun, o: Resolved): StrategyMetrics {
  const equity = run.days.map((d) => d.equity);
  const returns = dailyReturns(equity);
  const first = run.days[0];
  const last = run.days[run.days.length - 1];
  const years = first && last ? yearsBetween(first.date, last.date) : 0;
  const rfDaily = dailyRate(o.riskFreeRate);
  // Point estimates from the curve itself (its own start, and a wipe-out to 0 kept as such).
  const point: ReturnStats = {
    cagr: cagr(run.days),
    sharpe: sharpeOf(returns, rfDaily),
    sortino: sortinoOf(returns, rfDaily),
    maxDrawdown: maxDrawdownOf(equity),
  };
  const stream = (name: string): Rng => mulberry32(streamSeed(o.seed, `${run.name}:${name}`));

  // Return-based metrics share each resample, so one pass of resamples feeds all four.
  const rng = stream('returns');
  const draws: ReturnStats[] = [];
  if (returns.length > 0) {
    for (let b = 0; b < o.resamples; b++) {
      const idx = stationaryIndices(returns.length, o.blockLength, rng);
      draws.push(
        returnStats(
          Array.from(idx, (i) => returns[i] ?? 0),
          years,
          rfDaily,
        ),
      );
    }
  }
  const fromDraws = (value: number | null, key: keyof ReturnStats): Metric => {
    if (value === null || draws.length === 0) return metric(value, null, null);
    const { lo, hi } = percentileInterval(
      draws.map((d) => d[key]),
      o.confidence,
    );
    return metric(value, lo, hi);
  };

  // Exposure and turnover are daily series too (a busy week follows a busy week): same block scheme.
  const bookRng = stream('book');
  const bookIdx: Int32Array[] = [];
  for (let b = 0; b < o.resamples; b++) bookIdx.push(stationaryIndices(run.days.length, o.blockLength, bookRng));
  const bookMetric = (xs: readonly number[], scale: number): Metric => {
    const m = meanOf(xs);
    if (m === null) return metric(null, null, null);
    const { lo, hi } = percentileInterval(
      bookIdx.map((idx) => {
        const r = meanOf(xs, idx);
        return r === null ? null : r * scale;
      }),
      o.confidence,
    );
    return metric(m * scale, lo, hi);
  };
  const turnoverMetric = bookMetric(
    run.days.map((d) => d.turnover),
    TRADING_DAYS_PER_YEAR,
  );
  const exposureMetric = bookMetric(
    run.days.map((d) => d.grossExposure),
    1,
  );

  const tradeRng = stream('trades');
  const hitRate = withInterval(hitRateOf(run.trades), o.resamples, o.confidence, () =>
    hitRateOf(Array.from(iidIndices(run.trades.length, tradeRng), (i) => run.trades[i] ?? { pnl: 0 })),
  );
  const vetoRng = stream('vetoes');
  const vetoPrecision =
    run.name === 'committee'
      ? withInterval(vetoPrecisionOf(run.vetoes), o.resamples, o.confidence, () =>
          vetoPrecisionOf(Array.from(iidIndices(run.vetoes.length, vetoRng), (i) => run.vetoes[i] ?? { lost: false })),
        )
      : metric(null, null, null);

  return {
    cagr: fromDraws(point.cagr, 'cagr'),
    sharpe: fromDraws(point.sharpe, 'sharpe'),
    sortino: fromDraws(point.sortino, 'sortino'),
    maxDrawdown: fromDraws(point.maxDrawdown, 'maxDrawdown'),
    hitRate,
    turnover: turnoverMetric,
    exposure: exposureMetric,
    vetoPrecision,
    trades: run.trades.length,
    vetoes: run.vetoes.length,
    days: run.days.length,
  };
}

/**
 * Metrics of every strategy of a backtest, each with a bootstrap percentile interval. Deterministic:
 * the same result and options give the same numbers. Each strategy and metric group draws from its
 * own seeded stream, so adding a strategy leaves the others' intervals unchanged.
 */
export function computeMetrics(result: BacktestResult, options: MetricsOptions): BacktestMetrics {
  const parsed = parseOrThrow(MetricsOptions, options, 'metrics options');
  const longest = Math.max(0, ...result.strategies.map((s) => s.days.length));
  const o: Resolved = {
    seed: parsed.seed,
    resamples: parsed.resamples,
    confidence: parsed.confidence,
    blockLength: parsed.blockLength ?? defaultBlockLength(longest),
    riskFreeRate: parsed.riskFreeRate,
  };
  const byStrategy: BacktestMetrics['byStrategy'] = {};
  for (const run of result.strategies) byStrategy[run.name] = strategyMetrics(run, o);
  return {
    confidence: o.confidence,
    resamples: o.resamples,
    blockLength: o.blockLength,
    seed: o.seed,
    riskFreeRate: o.riskFreeRate,
    byStrategy,
  };
}
