/**
 * The closed trades the circuit breakers read, rebuilt from fills: a round trip per ticker from
 * flat to flat, attributed to the model that opened it, its P&L the cash it made net of commissions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closedTradesFrom, UNATTRIBUTED_MODEL, type AttributedFill } from '../../execution/breakers.ts';
import { circuitBreakerFor } from '../../risk/index.ts';
import { SettingsSchema } from '../../config/schema.ts';

const at = (i: number): string => new Date(Date.UTC(2024, 0, 2) + i * 60_000).toISOString();
const fill = (i: number, over: Partial<AttributedFill>): AttributedFill => ({
  id: `f${i}`,
  ticker: 'MSFT',
  side: 'buy',
  qty: 10,
  price: 100,
  commission: 0,
  filledAt: at(i),
  modelId: 'gbm',
  ...over,
});

describe('closed trades from fills', () => {
  it('pairs an entry with its exit, splits a fill through zero, and attributes each trade to its opener', () => {
    const trades = closedTradesFrom([
      fill(0, { side: 'buy', qty: 10, price: 100, commission: 1 }),
      fill(1, { side: 'sell', qty: 10, price: 90, commission: 1, modelId: null }),
      // A sell of 15 from flat after a buy of 5: closes the long, opens a short of 10 (the xgb model's).
      fill(2, { side: 'buy', qty: 5, price: 50, modelId: 'xgb' }),
      fill(3, { side: 'sell', qty: 15, price: 52, modelId: 'xgb' }),
      fill(4, { side: 'buy', qty: 10, price: 55, modelId: null }),
      fill(5, { ticker: 'AA', side: 'buy', qty: 3, price: 20, modelId: null }),
      fill(6, { ticker: 'AA', side: 'sell', qty: 3, price: 21 }),
    ]);
    expect(trades).toEqual([
      { modelId: 'gbm', closedAt: at(1), pnl: -102 },
      { modelId: 'xgb', closedAt: at(3), pnl: 10 },
      { modelId: 'xgb', closedAt: at(4), pnl: -30 },
      { modelId: UNATTRIBUTED_MODEL, closedAt: at(6), pnl: 3 },
    ]);
    // A breaker set at one loss trips when the latest trade lost (the first three), not after a win (all four).
    const rules = { ...SettingsSchema.parse({}).circuitBreakers, maxConsecutiveLosses: 1, minHitRate: 0 };
    expect(circuitBreakerFor(trades, rules).state).toBe('ACTIVE');
    expect(circuitBreakerFor(trades.slice(0, 3), rules).state).toBe('REDUCING');
  });

  it('over any fills that end flat, the trades P&L sums to the cash made, and duplicated or shuffled fills change nothing', () => {
    const arbFills = fc
      .array(
        fc.record({ buy: fc.boolean(), qty: fc.integer({ min: 1, max: 20 }), price: fc.integer({ min: 1, max: 200 }), fee: fc.integer({ min: 0, max: 3 }) }),
        {
          minLength: 1,
          maxLength: 30,
        },
      )
      .map((steps) => {
        const fills: AttributedFill[] = steps.map((s, i) => fill(i, { side: s.buy ? 'buy' : 'sell', qty: s.qty, price: s.price, commission: s.fee }));
        const net = fills.reduce((q, f) => q + (f.side === 'buy' ? f.qty : -f.qty), 0);
        if (net !== 0) fills.push(fill(fills.length, { side: net > 0 ? 'sell' : 'buy', qty: Math.abs(net), price: 100, commission: 0 }));
        return fills;
      });
    fc.assert(
      fc.property(arbFills, fc.integer(), (fills, seed) => {
        const trades = closedTradesFrom(fills);
        const cash = fills.reduce((c, f) => c + (f.side === 'buy' ? -1 : 1) * f.qty * f.price - f.commission, 0);
        expect(trades.reduce((s, t) => s + t.pnl, 0)).toBeCloseTo(cash, 6);
        const shuffled = [...fills, ...fills].sort((a, b) => ((a.id.charCodeAt(1) * 31 + seed) % 7) - ((b.id.charCodeAt(1) * 31 + seed) % 7));
        expect(closedTradesFrom(shuffled)).toEqual(trades);
      }),
      { numRuns: 1000 },
    );
  });
});
