import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultBlockLength, iidIndices, percentileInterval, stationaryIndices } from '../../evals/backtest/bootstrap.ts';
import {
  cagr,
  computeMetrics,
  dailyReturns,
  drawdownSeries,
  hitRateOf,
  maxDrawdownOf,
  sharpeOf,
  sortinoOf,
  vetoPrecisionOf,
} from '../../evals/backtest/metrics.ts';
import { mulberry32, streamSeed } from '../../contracts/random.ts';
import { BacktestMetrics, BacktestResult, type StrategyMetrics, type StrategyName } from '../../evals/backtest/schema.ts';
import { QuorumError } from '../../contracts/index.ts';
import { book, randomCurve, result, run, trade, veto, weekdays } from './backtest-support.ts';

// 2000-01-03 to 2004-01-03 is 1,461 days: exactly four years of 365.25 days.
const DATES = ['2000-01-03', '2001-06-01', '2002-06-03', '2004-01-03'];
const EQUITY = [100, 110, 99, 121];

function metricsOf(m: BacktestMetrics, name: StrategyName): StrategyMetrics {
  const s = m.byStrategy[name];
  if (!s) throw new Error(`no metrics for ${name}`);
  return s;
}

/** Every number in the metrics is finite (NaN would vanish in JSON, so walk the object) and the schema accepts them. */
function noNaN(m: BacktestMetrics): void {
  const walk = (v: unknown): void => {
    if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(m);
  expect(BacktestMetrics.safeParse(m).success).toBe(true);
}

describe('backtest point metrics on a hand-computed series (100, 110, 99, 121)', () => {
  const days = book(DATES, EQUITY);
  const returns = dailyReturns(EQUITY);

  it('computes the daily returns +10%, -10%, +22.2%', () => {
    expect(returns[0]).toBeCloseTo(0.1, 12);
    expect(returns[1]).toBeCloseTo(-0.1, 12);
    expect(returns[2]).toBeCloseTo(2 / 9, 12);
  });

  it('CAGR over four calendar years is 1.21^(1/4) - 1 = sqrt(1.1) - 1', () => {
    expect(cagr(days)).toBeCloseTo(Math.sqrt(1.1) - 1, 12);
    expect(cagr(days)).toBeCloseTo(0.048809, 6);
  });

  it('max drawdown is -10% (110 to 99) and the drawdown series is 0 at new highs', () => {
    expect(maxDrawdownOf(EQUITY)).toBeCloseTo(-0.1, 12);
    const dd = drawdownSeries(EQUITY);
    expect(dd[0]).toBe(0);
    expect(dd[1]).toBe(0);
    expect(dd[2]).toBeCloseTo(-0.1, 12);
    expect(dd[3]).toBe(0);
  });

  it('Sharpe is mean / sample sd x sqrt(252) with mean 2/27', () => {
    const mean = 2 / 27;
    const sd = Math.sqrt(((0.1 - mean) ** 2 + (-0.1 - mean) ** 2 + (2 / 9 - mean) ** 2) / 2);
    expect(sharpeOf(returns)).toBeCloseTo((mean / sd) * Math.sqrt(252), 10);
    expect(sharpeOf(returns)).toBeCloseTo(7.2287, 3);
  });

  it('Sortino divides by the downside deviation sqrt(0.1^2 / 3)', () => {
    expect(sortinoOf(returns)).toBeCloseTo((2 / 27 / Math.sqrt(0.01 / 3)) * Math.sqrt(252), 10);
  });

  it('subtracts a risk-free rate from each day', () => {
    const rf = 0.0002;
    const mean = 2 / 27 - rf;
    const sd = Math.sqrt(((0.1 - 2 / 27) ** 2 + (-0.1 - 2 / 27) ** 2 + (2 / 9 - 2 / 27) ** 2) / 2);
    expect(sharpeOf(returns, rf)).toBeCloseTo((mean / sd) * Math.sqrt(252), 10);
  });

  it('hit rate counts pnl > 0 only; veto precision counts the vetoes that would have lost', () => {
    expect(hitRateOf([trade(10), trade(-5), trade(0), trade(3)])).toBe(0.5);
    expect(vetoPrecisionOf([veto(-0.02, 1), veto(0.01, 2), veto(-0.001, 3)])).toBeCloseTo(2 / 3, 12);
  });

  it('computeMetrics reports the same points, annualised turnover and mean exposure', () => {
    const days2 = book(DATES, EQUITY).map((d, i) => ({ ...d, grossExposure: [0.2, 0.4, 0.6, 0.8][i] ?? 0, turnover: [0, 0.1, 0, 0.1][i] ?? 0 }));
    const m = metricsOf(computeMetrics(result([run('proposer', days2, [trade(10), trade(-5)])]), { seed: 1, resamples: 200 }), 'proposer');
    expect(m.cagr.value).toBeCloseTo(Math.sqrt(1.1) - 1, 12);
    expect(m.maxDrawdown.value).toBeCloseTo(-0.1, 12);
    expect(m.turnover.value).toBeCloseTo(0.05 * 252, 10);
    expect(m.exposure.value).toBeCloseTo(0.5, 12);
    expect(m.hitRate.value).toBe(0.5);
    expect(m.vetoPrecision).toEqual({ value: null, lo: null, hi: null });
    expect(m.trades).toBe(2);
    expect(m.days).toBe(4);
  });
});

describe('backtest metric edge cases give nulls, never NaN', () => {
  it('a flat curve: Sharpe and Sortino undefined, drawdown and CAGR zero', () => {
    const dates = weekdays('2000-01-03', 30);
    const m = computeMetrics(
      result([
        run(
          'proposer',
          book(
            dates,
            dates.map(() => 100_000),
            0,
            0,
          ),
        ),
      ]),
      { seed: 3, resamples: 100 },
    );
    noNaN(m);
    const s = metricsOf(m, 'proposer');
    expect(s.sharpe).toEqual({ value: null, lo: null, hi: null });
    expect(s.sortino).toEqual({ value: null, lo: null, hi: null });
    expect(s.cagr.value).toBe(0);
    expect(s.maxDrawdown).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(s.exposure).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(s.hitRate).toEqual({ value: null, lo: null, hi: null });
  });

  it('one day: no return-based metric, but exposure and turnover are defined', () => {
    const m = computeMetrics(result([run('proposer', book(['2000-01-03'], [100_000], 0.3, 0.1))]), { seed: 3, resamples: 50 });
    noNaN(m);
    const s = metricsOf(m, 'proposer');
    for (const k of ['cagr', 'sharpe', 'sortino', 'maxDrawdown'] as const) expect(s[k]).toEqual({ value: null, lo: null, hi: null });
    expect(s.exposure.value).toBeCloseTo(0.3, 12);
    expect(s.turnover.value).toBeCloseTo(0.1 * 252, 10);
  });

  it('a committee with no trades and no vetoes: hit rate and veto precision null', () => {
    const dates = weekdays('2000-01-03', 10);
    const m = computeMetrics(result([run('committee', book(dates, randomCurve(10, 1)))]), { seed: 3, resamples: 50 });
    noNaN(m);
    expect(metricsOf(m, 'committee').hitRate.value).toBeNull();
    expect(metricsOf(m, 'committee').vetoPrecision.value).toBeNull();
  });

  it('a wipe-out to zero equity: CAGR -100%, drawdown -100%, no NaN', () => {
    const dates = weekdays('2000-01-03', 5);
    const m = computeMetrics(result([run('proposer', book(dates, [100, 50, 0, 0, 0]))]), { seed: 3, resamples: 50 });
    noNaN(m);
    expect(metricsOf(m, 'proposer').cagr.value).toBe(-1);
    expect(metricsOf(m, 'proposer').maxDrawdown.value).toBe(-1);
  });

  it('rejects bad options naming the field', () => {
    const r = result([run('proposer', book(DATES, EQUITY))]);
    expect(() => computeMetrics(r, { seed: 1, confidence: 1.5 })).toThrow(/confidence/);
    try {
      computeMetrics(r, { seed: -1 });
      expect.unreachable();
    } catch (e) {
      expect(QuorumError.is(e, 'INPUT_INVALID')).toBe(true);
    }
  });
});

describe('backtest bootstrap intervals', () => {
  const dates = weekdays('1995-01-03', 1500);
  const curve = randomCurve(1500, 42);
  const trades = Array.from({ length: 80 }, (_, i) => trade(i % 3 === 0 ? -10 : 12));
  const vetoes = Array.from({ length: 40 }, (_, i) => veto(i % 4 === 0 ? 0.01 : -0.01, i));
  const r = result([run('committee', book(dates, curve), trades, vetoes), run('buy_and_hold', book(dates, randomCurve(1500, 43)))]);

  it('is deterministic for a seed and changes with the seed', () => {
    const a = computeMetrics(r, { seed: 11, resamples: 300 });
    const b = computeMetrics(r, { seed: 11, resamples: 300 });
    const c = computeMetrics(r, { seed: 12, resamples: 300 });
    expect(b).toEqual(a);
    expect(c.byStrategy.committee?.sharpe.lo).not.toBe(a.byStrategy.committee?.sharpe.lo);
    expect(c.byStrategy.committee?.sharpe.value).toBe(a.byStrategy.committee?.sharpe.value);
  });

  it('gives a strategy the same intervals whether or not another strategy is in the run', () => {
    const alone = computeMetrics(result([r.strategies[0] ?? run('committee', [])]), { seed: 11, resamples: 200, blockLength: 12 });
    const both = computeMetrics(r, { seed: 11, resamples: 200, blockLength: 12 });
    expect(alone.byStrategy.committee).toEqual(both.byStrategy.committee);
  });

  it('contains the point estimate of every metric for a well-behaved series', () => {
    const m = computeMetrics(r, { seed: 5, resamples: 500 });
    expect(m.blockLength).toBe(defaultBlockLength(1500));
    expect(m.blockLength).toBe(12);
    const s = metricsOf(m, 'committee');
    for (const k of ['cagr', 'sharpe', 'sortino', 'maxDrawdown', 'hitRate', 'exposure', 'turnover', 'vetoPrecision'] as const) {
      const { value, lo, hi } = s[k];
      expect(value, k).not.toBeNull();
      expect(lo, k).not.toBeNull();
      expect(lo ?? Infinity, k).toBeLessThanOrEqual(value ?? -Infinity);
      expect(hi ?? -Infinity, k).toBeGreaterThanOrEqual(value ?? Infinity);
    }
    expect(s.hitRate.value).toBeCloseTo(53 / 80, 12);
    expect(s.vetoPrecision.value).toBeCloseTo(30 / 40, 12);
    // Trades and vetoes vary, so their intervals have width.
    expect((s.hitRate.hi ?? 0) - (s.hitRate.lo ?? 0)).toBeGreaterThan(0.05);
  });

  it('narrows with more data', () => {
    const width = (n: number): number => {
      const d = weekdays('1990-01-02', n);
      const s = metricsOf(computeMetrics(result([run('proposer', book(d, randomCurve(n, 9)))]), { seed: 2, resamples: 400 }), 'proposer');
      return (s.sharpe.hi ?? 0) - (s.sharpe.lo ?? 0);
    };
    const short = width(250);
    const long = width(4000);
    expect(long).toBeLessThan(short / 2);
  });

  it('a higher confidence gives a wider interval', () => {
    const s90 = metricsOf(computeMetrics(r, { seed: 5, resamples: 400, confidence: 0.9 }), 'committee').sharpe;
    const s99 = metricsOf(computeMetrics(r, { seed: 5, resamples: 400, confidence: 0.99 }), 'committee').sharpe;
    expect((s99.hi ?? 0) - (s99.lo ?? 0)).toBeGreaterThan((s90.hi ?? 0) - (s90.lo ?? 0));
  });

  it('stationary blocks keep runs of consecutive days with the chosen mean length', () => {
    const idx = stationaryIndices(10_000, 10, mulberry32(1));
    let breaks = 0;
    for (let i = 1; i < idx.length; i++) if (idx[i] !== ((idx[i - 1] ?? 0) + 1) % 10_000) breaks++;
    // A new block starts with probability 1/10 (a new start may by chance continue the run).
    expect(breaks / idx.length).toBeGreaterThan(0.08);
    expect(breaks / idx.length).toBeLessThan(0.12);
    expect(Array.from(iidIndices(100, mulberry32(2))).every((i) => i >= 0 && i < 100)).toBe(true);
  });

  it('percentile intervals are null when most resamples are undefined', () => {
    expect(percentileInterval([null, null, 1], 0.95)).toEqual({ lo: null, hi: null });
    const iv = percentileInterval([1, 2, 3, 4, 5, null], 0.5);
    expect(iv.lo).toBe(2);
    expect(iv.hi).toBe(4);
    expect(streamSeed(1, 'a')).not.toBe(streamSeed(1, 'b'));
  });
});

describe('backtest metric properties', () => {
  const curveArb = fc.array(fc.double({ min: 1, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 60 });

  it('max drawdown lies in [-1, 0] and does not change when equity is scaled', () => {
    fc.assert(
      fc.property(curveArb, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (eq, k) => {
        const dd = maxDrawdownOf(eq);
        expect(dd).not.toBeNull();
        expect(dd ?? 1).toBeGreaterThanOrEqual(-1);
        expect(dd ?? 1).toBeLessThanOrEqual(0);
        expect(maxDrawdownOf(eq.map((e) => e * k)) ?? 1).toBeCloseTo(dd ?? 0, 9);
      }),
    );
  });

  it('CAGR of a constant-growth curve equals its growth per year', () => {
    fc.assert(
      fc.property(fc.double({ min: -0.5, max: 1, noNaN: true }), fc.integer({ min: 1, max: 12 }), (g, years) => {
        // One point each 1 January: whole calendar years (leap years make each year 365 or 366 days).
        const dates = Array.from({ length: years + 1 }, (_, i) => `${2000 + i}-01-03`);
        const totalDays = (Date.parse(`${2000 + years}-01-03`) - Date.parse('2000-01-03')) / 86_400_000;
        const yrs = totalDays / 365.25;
        const equity = dates.map((_, i) => 100 * (1 + g) ** ((i * yrs) / years));
        expect(cagr(book(dates, equity))).toBeCloseTo(g, 9);
      }),
    );
  });

  it('metrics of any valid result parse against the schema and carry no NaN', () => {
    fc.assert(
      fc.property(curveArb, fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { maxLength: 10 }), fc.nat(1000), (eq, pnls, seed) => {
        const dates = weekdays('2000-01-03', eq.length);
        const r = BacktestResult.parse(
          result([
            run(
              'proposer',
              book(dates, eq),
              pnls.map((p) => trade(p)),
            ),
          ]),
        );
        noNaN(computeMetrics(r, { seed, resamples: 20 }));
      }),
      { numRuns: 50 },
    );
  });
});
