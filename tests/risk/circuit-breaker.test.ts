/**
 * The circuit breakers' promises over random trade histories and controller inputs (fast-check, 1,000
 * runs each). The streak and the hit rate are counted here independently of risk/.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SettingsSchema } from '../../config/schema.ts';
import type { PortfolioSnapshot } from '../../contracts/index.ts';
import { circuitBreakerFor, currentTrip, decide, decideWithBreakers, type CircuitBreakerRules, type ClosedTrade } from '../../risk/index.ts';
import { arbDecideInput } from '../support/risk-fixtures.ts';

const RUNS = 1_000;
const DEFAULTS: CircuitBreakerRules = SettingsSchema.parse({}).circuitBreakers;

const arbRules: fc.Arbitrary<CircuitBreakerRules> = fc.record({
  maxConsecutiveLosses: fc.integer({ min: 0, max: 8 }),
  hitRateWindow: fc.integer({ min: 1, max: 12 }),
  minHitRate: fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 1, noNaN: true })),
  killedModels: fc.subarray(['gbm', 'xgb', 'other']),
});

/** Trades with distinct closing times (one a day from 2026-01-01), in random input order. */
const arbTrades: fc.Arbitrary<ClosedTrade[]> = fc
  .array(fc.tuple(fc.constantFrom('gbm', 'xgb'), fc.oneof(fc.double({ min: -500, max: 500, noNaN: true }), fc.constant(0))), { maxLength: 30 })
  .chain((raw) => {
    const trades = raw.map(([modelId, pnl], i) => ({ modelId, pnl, closedAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() }));
    return fc.shuffledSubarray(trades, { minLength: trades.length, maxLength: trades.length }).map((shuffled) => ({ trades, shuffled }));
  })
  .map(({ shuffled }) => shuffled);

const byTime = (t: readonly ClosedTrade[]): ClosedTrade[] => [...t].sort((a, b) => a.closedAt.localeCompare(b.closedAt));

function streakOf(t: readonly ClosedTrade[]): number {
  const s = byTime(t).reverse();
  const k = s.findIndex((x) => !(x.pnl < 0));
  return k === -1 ? s.length : k;
}

const SEVERITY = { ACTIVE: 0, REDUCING: 1, HALTED: 2 } as const;

const positionOf = (p: PortfolioSnapshot | null | undefined, ticker: string): number =>
  (p?.positions ?? []).filter((x) => x.ticker === ticker).reduce((s, x) => s + x.qty, 0);

describe('circuit breaker properties', () => {
  it('trips on N losses in a row exactly when the latest N trades all lost (N > 0), whatever the input order', () => {
    fc.assert(
      fc.property(arbTrades, arbRules, (trades, rules) => {
        const b = circuitBreakerFor(trades, rules);
        const streak = streakOf(trades);
        expect(b.consecutiveLosses).toBe(streak);
        const tripped = rules.maxConsecutiveLosses > 0 && streak >= rules.maxConsecutiveLosses;
        expect(b.rules.find((r) => r.rule === 'CONSECUTIVE_LOSSES')?.passed).toBe(!tripped);
        if (tripped) expect(b.state).toBe('REDUCING');
        expect(circuitBreakerFor(byTime(trades), rules)).toEqual(b);
      }),
      { numRuns: RUNS },
    );
  });

  it('trips on the hit rate exactly when the latest window of trades wins less than the floor; never before the window is full', () => {
    fc.assert(
      fc.property(arbTrades, arbRules, (trades, rules) => {
        const b = circuitBreakerFor(trades, rules);
        const last = byTime(trades).slice(-rules.hitRateWindow);
        const full = trades.length >= rules.hitRateWindow;
        const rate = full ? last.filter((x) => x.pnl > 0).length / rules.hitRateWindow : null;
        expect(b.hitRate).toBe(rate);
        const tripped = rules.minHitRate > 0 && rate !== null && rate < rules.minHitRate;
        expect(b.rules.find((r) => r.rule === 'HIT_RATE_FLOOR')?.passed).toBe(!tripped);
        const streakTripped = rules.maxConsecutiveLosses > 0 && streakOf(trades) >= rules.maxConsecutiveLosses;
        expect(b.state).toBe(tripped || streakTripped ? 'REDUCING' : 'ACTIVE');
      }),
      { numRuns: RUNS },
    );
  });

  it('only ever raises the trading state; a tripped breaker lets through only orders that reduce a position', () => {
    let reducingSeen = 0;
    fc.assert(
      fc.property(arbDecideInput({ maxAgeSeconds: 30 }), arbTrades, arbRules, (input, trades, rules) => {
        const plain = decide(input);
        const r = decideWithBreakers(input, trades, { ...rules, killedModels: [] });
        expect(SEVERITY[r.decision.tradingState]).toBeGreaterThanOrEqual(SEVERITY[plain.tradingState]);
        if (r.breaker.state === 'ACTIVE') expect(r.decision).toEqual(plain);
        else {
          expect(r.decision.tradingState).not.toBe('ACTIVE');
          if (r.decision.tradingState === 'REDUCING') reducingSeen += 1;
          if (r.decision.action !== 'DENY') {
            const held = positionOf(input.portfolio, r.decision.ticker);
            expect(r.decision.side === 'sell' ? held > 0 : held < 0).toBe(true);
            expect(r.decision.finalQty).toBeLessThanOrEqual(Math.abs(held));
          }
        }
      }),
      { numRuns: RUNS },
    );
    expect(reducingSeen).toBeGreaterThan(50);
  });

  it("denies every order of a killed model and leaves other models' decisions untouched", () => {
    fc.assert(
      fc.property(arbDecideInput({ favourable: true, maxAgeSeconds: 30 }), fc.boolean(), (input, killed) => {
        const rules: CircuitBreakerRules = {
          ...DEFAULTS,
          maxConsecutiveLosses: 0,
          minHitRate: 0,
          killedModels: killed ? [input.proposal.modelId] : ['another'],
        };
        const r = decideWithBreakers(input, [], rules);
        expect(r.killSwitch.passed).toBe(!killed);
        if (killed) {
          expect(r.decision.action).toBe('DENY');
          expect(r.decision.finalQty).toBe(0);
        } else expect(r.decision).toEqual(decide(input));
      }),
      { numRuns: RUNS },
    );
  });

  it('has a current trip exactly while the book is REDUCING; it is the latest trade after which every reading was REDUCING, and stays while it lasts', () => {
    fc.assert(
      fc.property(arbTrades, arbRules, fc.double({ min: -500, max: -0.01, noNaN: true }), (trades, rules, loss) => {
        const t = byTime(trades);
        const trip = currentTrip(trades, rules);
        expect(trip !== null).toBe(circuitBreakerFor(trades, rules).state === 'REDUCING');
        if (!trip) return;
        // Independently: the readings of every prefix, and the start of the last run of REDUCING ones.
        const reading = t.map((_, k) => circuitBreakerFor(t.slice(0, k + 1), rules).state);
        let k = reading.length - 1;
        while (k > 0 && reading[k - 1] === 'REDUCING') k--;
        expect(trip.trippedAt).toBe(t[k]?.closedAt);
        expect(trip.modelId).toBe(t[k]?.modelId);
        expect(trip.rules.length).toBeGreaterThan(0);
        // One more losing trade keeps a losing streak's trip where it was.
        if (trip.rules.includes('CONSECUTIVE_LOSSES') && rules.minHitRate === 0) {
          const more = [...trades, { modelId: 'gbm', pnl: loss, closedAt: new Date(Date.UTC(2027, 0, 1)).toISOString() }];
          expect(currentTrip(more, rules)?.trippedAt).toBe(trip.trippedAt);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
