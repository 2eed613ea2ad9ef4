/**
 * The exit rules both the exit monitor and the backtest ask (execution's exitSignal): their order,
 * and that a breakeven move only ever tightens a stop, over arbitrary positions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exitSignal, macdCrossedAgainst, type HeldPosition } from '../../execution/index.ts';

const price = fc.double({ min: 1, max: 1_000, noNaN: true });
const arbPosition: fc.Arbitrary<HeldPosition> = fc
  .record({
    side: fc.constantFrom('long' as const, 'short' as const),
    heldBars: fc.nat({ max: 30 }),
    maxHoldingBars: fc.integer({ min: 1, max: 30 }),
    closes: fc.array(price, { minLength: 0, maxLength: 60 }),
    entryPrice: price,
    stopOffset: fc.option(fc.double({ min: -0.3, max: 0.3, noNaN: true }), { nil: null }),
    initialOffset: fc.double({ min: 0.01, max: 0.3, noNaN: true }),
  })
  .map((r) => {
    const sign = r.side === 'long' ? -1 : 1;
    const initialStop = r.entryPrice * (1 + sign * r.initialOffset);
    return {
      side: r.side,
      heldBars: r.heldBars,
      maxHoldingBars: r.maxHoldingBars,
      closes: r.closes,
      entryPrice: r.entryPrice,
      initialStop: r.stopOffset === null ? null : initialStop,
      stop: r.stopOffset === null ? null : r.entryPrice * (1 + sign * r.stopOffset),
    };
  });
const arbRules = fc.record({ breakevenAtR: fc.double({ min: 0.25, max: 3, noNaN: true }), momentumReversal: fc.boolean() });

describe('exitSignal', () => {
  it('a position held its limit exits on time, whatever else holds', () => {
    fc.assert(
      fc.property(arbPosition, arbRules, (p, rules) => {
        const s = exitSignal(p, rules);
        expect(s?.kind === 'time_exit').toBe(p.heldBars >= p.maxHoldingBars);
      }),
      { numRuns: 1_000 },
    );
  });

  it('before its limit, a MACD cross against it exits it when enabled, and only then', () => {
    fc.assert(
      fc.property(arbPosition, arbRules, (p, rules) => {
        fc.pre(p.heldBars < p.maxHoldingBars);
        const s = exitSignal(p, rules);
        expect(s?.kind === 'momentum_exit').toBe(rules.momentumReversal && macdCrossedAgainst(p.closes, p.side));
      }),
      { numRuns: 1_000 },
    );
  });

  it('a breakeven move puts the stop at the entry, only from the losing side, once the last close is breakevenAtR x R in favour', () => {
    fc.assert(
      fc.property(arbPosition, arbRules, (p, rules) => {
        const s = exitSignal(p, rules);
        if (s?.kind !== 'breakeven_stop') return;
        const last = p.closes[p.closes.length - 1] ?? Number.NaN;
        const r = Math.abs(p.entryPrice - (p.initialStop ?? Number.NaN));
        expect(s.stop).toBe(p.entryPrice);
        if (p.side === 'long') {
          expect(p.stop ?? Infinity).toBeLessThan(s.stop);
          expect(last - p.entryPrice).toBeGreaterThanOrEqual(rules.breakevenAtR * r);
        } else {
          expect(p.stop ?? -Infinity).toBeGreaterThan(s.stop);
          expect(p.entryPrice - last).toBeGreaterThanOrEqual(rules.breakevenAtR * r);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('moves a long stop to breakeven at +1R and leaves it there', () => {
    const p: HeldPosition = { side: 'long', heldBars: 2, maxHoldingBars: 10, closes: [100, 104, 105], entryPrice: 100, initialStop: 95, stop: 95 };
    const rules = { breakevenAtR: 1, momentumReversal: false };
    expect(exitSignal(p, rules)).toEqual({ kind: 'breakeven_stop', stop: 100, detail: 'price 105 is 1.00R in favour (R=5.0000): stop 95 -> 100' });
    expect(exitSignal({ ...p, stop: 100 }, rules)).toBeNull();
    expect(exitSignal({ ...p, closes: [100, 104.9] }, rules)).toBeNull();
  });
});
