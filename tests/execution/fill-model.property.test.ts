/**
 * The one fill model (execution/fill-model.ts), shared by the paper exchange and the backtest,
 * property-tested once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bracketExit, commissionOf, fillPrice, fillTriggerPrice, type FillBar, type FillOrder } from '../../execution/index.ts';

const price = fc.double({ min: 1, max: 1_000, noNaN: true, noDefaultInfinity: true });
const bps = fc.double({ min: 0, max: 100, noNaN: true, noDefaultInfinity: true });
const side = fc.constantFrom<'buy' | 'sell'>('buy', 'sell');

/** A consistent OHLC bar: low <= open, close <= high. */
const ohlcBar: fc.Arbitrary<FillBar> = fc.tuple(price, price, price, price).map(([a, b, c, d]) => {
  const [low, x, y, high] = [a, b, c, d].sort((p, q) => p - q) as [number, number, number, number];
  return { open: x, high, low, close: y };
});
const closeOnlyBar: fc.Arbitrary<FillBar> = price.map((close) => ({ open: null, high: null, low: null, close }));
const anyBar = fc.oneof(ohlcBar, closeOnlyBar);

const order: fc.Arbitrary<FillOrder> = fc.oneof(
  side.map((s): FillOrder => ({ type: 'market', side: s, limitPrice: null, stopPrice: null })),
  fc.tuple(side, price).map(([s, p]): FillOrder => ({ type: 'limit', side: s, limitPrice: p, stopPrice: null })),
  fc.tuple(side, price).map(([s, p]): FillOrder => ({ type: 'stop', side: s, limitPrice: null, stopPrice: p })),
);

const lo = (bar: FillBar): number => bar.low ?? bar.close;
const hi = (bar: FillBar): number => bar.high ?? bar.close;
const EPS = 1e-9;

describe('the fill model', () => {
  it('fills always lie within the bar [low, high], moved only by slippage against the trade', () => {
    fc.assert(
      fc.property(order, anyBar, bps, (o, bar, slippageBps) => {
        const base = fillTriggerPrice(o, bar);
        const p = fillPrice(o, bar, { slippageBps });
        expect(p === null).toBe(base === null);
        if (base === null || p === null) return;
        expect(base).toBeGreaterThanOrEqual(lo(bar) - EPS);
        expect(base).toBeLessThanOrEqual(hi(bar) + EPS);
        const f = slippageBps / 10_000;
        expect(p).toBeGreaterThanOrEqual(lo(bar) * (1 - f) - EPS);
        expect(p).toBeLessThanOrEqual(hi(bar) * (1 + f) + EPS);
        // Slippage never helps: a buy pays at least the base, a sell gets at most it; a limit pays none.
        if (o.type === 'limit') expect(p).toBe(base);
        else if (o.side === 'buy') expect(p).toBeGreaterThanOrEqual(base);
        else expect(p).toBeLessThanOrEqual(base);
      }),
    );
  });

  it('close-only bars fill every triggered order at the close', () => {
    fc.assert(
      fc.property(order, closeOnlyBar, (o, bar) => {
        const base = fillTriggerPrice(o, bar);
        if (base !== null) expect(base).toBe(bar.close);
        if (o.type === 'market') expect(base).toBe(bar.close);
      }),
    );
  });

  it('a market order fills at the open of an OHLC bar', () => {
    fc.assert(
      fc.property(side, ohlcBar, (s, bar) => {
        expect(fillTriggerPrice({ type: 'market', side: s, limitPrice: null, stopPrice: null }, bar)).toBe(bar.open);
      }),
    );
  });

  it('a gap through a stop fills at the open: a sell stop never above the open on a gap down, a buy stop never below it on a gap up', () => {
    fc.assert(
      fc.property(ohlcBar, price, bps, (bar, stop, slippageBps) => {
        const open = bar.open ?? bar.close;
        const sell = fillPrice({ type: 'stop', side: 'sell', stopPrice: stop, limitPrice: null }, bar, { slippageBps });
        const buy = fillPrice({ type: 'stop', side: 'buy', stopPrice: stop, limitPrice: null }, bar, { slippageBps });
        const f = slippageBps / 10_000;
        if (open <= stop) expect(sell).toBeCloseTo(open * (1 - f), 9);
        if (sell !== null) expect(sell).toBeLessThanOrEqual(Math.min(open, stop) + EPS);
        if (open >= stop) expect(buy).toBeCloseTo(open * (1 + f), 9);
        if (buy !== null) expect(buy).toBeGreaterThanOrEqual(Math.max(open, stop) - EPS);
        // Not reached: the bar never touched the stop.
        if (sell === null) expect(lo(bar)).toBeGreaterThan(stop);
        if (buy === null) expect(hi(bar)).toBeLessThan(stop);
      }),
    );
  });

  it('a limit never fills worse than its price', () => {
    fc.assert(
      fc.property(side, price, anyBar, (s, limit, bar) => {
        const p = fillPrice({ type: 'limit', side: s, limitPrice: limit, stopPrice: null }, bar, { slippageBps: 50 });
        if (p === null) return;
        if (s === 'buy') expect(p).toBeLessThanOrEqual(limit + EPS);
        else expect(p).toBeGreaterThanOrEqual(limit - EPS);
      }),
    );
  });

  it('commission is notional x bps plus shares x per-share', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), price, bps, fc.double({ min: 0, max: 0.05, noNaN: true }), (qty, p, commissionBps, perShare) => {
        expect(commissionOf(qty, p, { commissionBps })).toBeCloseTo((qty * p * commissionBps) / 10_000, 6);
        expect(commissionOf(qty, p, { commissionPerShare: perShare })).toBeCloseTo(qty * perShare, 9);
        expect(commissionOf(-qty, p, { commissionBps, commissionPerShare: perShare })).toBeCloseTo((qty * p * commissionBps) / 10_000 + qty * perShare, 6);
      }),
    );
  });

  it('a bracket counts a bar that reaches both legs as the stop', () => {
    fc.assert(
      fc.property(ohlcBar, (bar) => {
        const stop = lo(bar);
        const target = hi(bar);
        if (!(stop < target)) return;
        expect(bracketExit({ side: 'long', stop, target }, bar, { slippageBps: 0 })?.reason).toBe('stop');
        expect(bracketExit({ side: 'short', stop: target, target: stop }, bar, { slippageBps: 0 })?.reason).toBe('stop');
      }),
    );
  });
});
