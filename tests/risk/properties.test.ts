/**
 * The controller's promises over random portfolios, verdicts, markets and rules (fast-check,
 * 1,000 runs each). The checks of the caps are written out here independently of risk/.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RiskRulesSchema, type RiskRules } from '../../config/schema.ts';
import { RiskDecision, type PortfolioSnapshot } from '../../contracts/index.ts';
import { checkCancel, checkExit, decide, tradingStateFor, type DecideInput } from '../../risk/index.ts';
import { DEFAULT_RULES, NOW_MS, arbDecideInput, arbRules, iso } from '../support/risk-fixtures.ts';

const RUNS = 1_000;

/** A deep copy with every object's keys in reverse order: same content, different layout. */
function reordered<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => reordered(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).reverse()) out[key] = reordered((value as Record<string, unknown>)[key]);
    return out as T;
  }
  return value;
}

const positionOf = (p: PortfolioSnapshot | null | undefined, ticker: string): number =>
  (p?.positions ?? []).filter((x) => x.ticker === ticker).reduce((s, x) => s + x.qty, 0);

describe('risk controller properties', () => {
  it('gives the same decision, id included, for the same inputs (even with keys in another order)', () => {
    fc.assert(
      fc.property(arbDecideInput(), (input) => {
        const first = decide(input);
        expect(decide(structuredClone(input))).toEqual(first);
        expect(decide(reordered(input))).toEqual(first);
        expect(RiskDecision.safeParse(first).success).toBe(true);
        expect(first.id).toMatch(/^rd_[0-9a-f]{32}$/);
      }),
      { numRuns: RUNS },
    );
  });

  it('gives different ids to decisions on different inputs', () => {
    fc.assert(
      fc.property(arbDecideInput(), fc.integer({ min: 1, max: 10_000 }), (input, bump) => {
        const later = { ...input, now: iso(Date.parse(input.now) + bump) };
        expect(decide(later).id).not.toBe(decide(input).id);
      }),
      { numRuns: RUNS },
    );
  });

  it('never turns DENY into ALLOW or RESIZE, nor raises the quantity, when any limit is tightened', () => {
    let allowedBefore = 0;
    let deniedAfterTightening = 0;
    fc.assert(
      fc.property(arbDecideInput(), arbTightening, (input, tighten) => {
        const tighter = tighten(input.rules);
        const before = decide(input);
        const after = decide({ ...input, rules: tighter });
        if (before.action === 'DENY') expect(after.action).toBe('DENY');
        expect(after.finalQty).toBeLessThanOrEqual(before.finalQty);
        if (before.action !== 'DENY') allowedBefore += 1;
        if (before.action !== 'DENY' && after.action === 'DENY') deniedAfterTightening += 1;
      }),
      { numRuns: RUNS },
    );
    // The property is only meaningful if some orders were allowed and some tightenings bit.
    expect(allowedBefore).toBeGreaterThan(50);
    expect(deniedAfterTightening).toBeGreaterThan(5);
  });

  it('keeps every approved order under every cap over random portfolios', () => {
    let opening = 0;
    let reducing = 0;
    let resized = 0;
    fc.assert(
      fc.property(
        arbDecideInput({
          tradingState: fc.constant('ACTIVE'),
          favourable: true,
          rules: fc.oneof(fc.constant(DEFAULT_RULES), fc.constant(DEFAULT_RULES), arbRules),
        }),
        (input) => {
          const d = decide(input);
          if (d.action === 'DENY') {
            expect(d.finalQty).toBe(0);
            expect(d.rules.some((r) => !r.passed)).toBe(true);
            return;
          }
          expect(d.finalQty).toBeGreaterThan(0);
          expect(d.finalQty).toBeLessThanOrEqual(d.requestedQty);
          expect(d.rules.every((r) => r.passed)).toBe(true);
          expectWithinCaps(input, d.finalQty);
          if (d.action === 'RESIZE') resized += 1;
          // Exactly the rules of a RESIZE name the cap that set its size; nothing else names any.
          expect(d.limitedBy.length > 0).toBe(d.action === 'RESIZE');
          if (reducesExposure(input)) reducing += 1;
          else opening += 1;
        },
      ),
      { numRuns: RUNS },
    );
    // Meaningful only if many orders passed, some of them resized by a binding cap.
    expect(opening).toBeGreaterThan(40);
    expect(reducing).toBeGreaterThan(50);
    expect(resized).toBeGreaterThan(10);
  });

  it('denies every new order when trading is halted, and lets cancels through', () => {
    fc.assert(
      fc.property(arbDecideInput(), arbHaltCause, fc.double({ min: 0.01, max: 20, noNaN: true }), (input, cause, extra) => {
        const halted = haltBy(cause, input, extra);
        const state = halted.portfolio === null ? null : tradingStateFor(halted.portfolio, halted.rules, halted.now);
        if (state) expect(state.state).toBe('HALTED');

        const d = decide(halted);
        expect(d.action).toBe('DENY');
        expect(d.finalQty).toBe(0);
        expect(d.tradingState).toBe('HALTED');
        expect(d.rules.find((r) => r.rule === 'TRADING_STATE')?.passed).toBe(false);

        for (const p of halted.portfolio?.positions ?? []) {
          const exit = checkExit({
            ticker: p.ticker,
            reason: 'time-exit',
            portfolio: halted.portfolio,
            market: { ...halted.market, ticker: p.ticker },
            rules: halted.rules,
            now: halted.now,
          });
          expect(exit.action).toBe('DENY');
        }
        const orders = halted.portfolio?.openOrders.map((o) => o.clientOrderId) ?? [];
        for (const clientOrderId of [...orders, 'any-order']) {
          const cancel = checkCancel({ portfolio: halted.portfolio, rules: halted.rules, now: halted.now, clientOrderId });
          expect(cancel).toMatchObject({ allowed: true, tradingState: 'HALTED', rule: { passed: true } });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('allows only orders that reduce exposure while REDUCING, never beyond the position', () => {
    let allowed = 0;
    fc.assert(
      fc.property(arbDecideInput({ maxAgeSeconds: 30 }), fc.boolean(), fc.double({ min: 0.05, max: 0.95, noNaN: true }), (input, stored, u) => {
        const reducingInput = reduceBy(stored, input, u);
        fc.pre(tradingStateFor(reducingInput.portfolio, reducingInput.rules, reducingInput.now).state === 'REDUCING');
        const d = decide(reducingInput);
        expect(d.tradingState).toBe('REDUCING');
        if (d.action !== 'DENY') {
          allowed += 1;
          const held = positionOf(reducingInput.portfolio, d.ticker);
          expect(d.side === 'sell' ? held > 0 : held < 0).toBe(true);
          expect(d.finalQty).toBeLessThanOrEqual(Math.abs(held));
        }
        for (const p of reducingInput.portfolio?.positions ?? []) {
          const exit = checkExit({
            ticker: p.ticker,
            reason: 'stop-to-breakeven',
            portfolio: reducingInput.portfolio,
            market: { ...reducingInput.market, ticker: p.ticker },
            rules: reducingInput.rules,
            now: reducingInput.now,
          });
          if (exit.action !== 'DENY') {
            allowed += 1;
            expect(exit.side).toBe(p.qty > 0 ? 'sell' : 'buy');
            expect(exit.finalQty).toBeLessThanOrEqual(Math.abs(p.qty));
          }
        }
      }),
      { numRuns: RUNS },
    );
    expect(allowed).toBeGreaterThan(20);
  });
});

// ---------------------------------------------------------------------------------------------

function reducesExposure(input: DecideInput): boolean {
  const held = positionOf(input.portfolio, input.proposal.ticker);
  return input.proposal.side === 'sell' ? held > 0 : held < 0;
}

/** Independent re-statement of the caps: what an allowed order of `qty` must satisfy. */
function expectWithinCaps(input: DecideInput, qty: number): void {
  const { portfolio: p, market: m, rules: r, proposal, verdict } = input;
  if (!p) throw new Error('an allowed order needs an account');
  expect(['APPROVE', 'REDUCE']).toContain(verdict.decision);
  expect(verdict.confidence).toBeGreaterThanOrEqual(r.minVerdictConfidence);
  expect(qty).toBeLessThanOrEqual(Math.floor((input.baseQty ?? Number.POSITIVE_INFINITY) * verdict.sizeMultiplier));
  if (r.requireMarketOpen) expect(m.marketOpen).toBe(true);
  expect(p.openOrders.filter((o) => o.ticker === proposal.ticker)).toHaveLength(0);
  const minuteAgo = NOW_MS - 60_000;
  expect(p.recentOrderTimes.filter((t) => Date.parse(t) > minuteAgo).length + 1).toBeLessThanOrEqual(r.maxOrdersPerMinute);

  const held = positionOf(p, proposal.ticker);
  if (reducesExposure(input)) {
    expect(qty).toBeLessThanOrEqual(Math.abs(held));
    return;
  }
  if (proposal.side === 'sell') expect(r.allowShort).toBe(true);
  const price = m.lastPrice;
  const notional = qty * price;
  expect(price).toBeGreaterThanOrEqual(r.minPrice);
  expect(notional).toBeGreaterThanOrEqual(r.minNotional);
  // Risk per trade from the ATR stop.
  expect(m.atr).not.toBeNull();
  expect(qty * r.atrStopMultiple * (m.atr ?? 0)).toBeLessThanOrEqual((p.equity * r.riskPerTradePct) / 100);
  // Buying power with the market-buy buffer.
  expect(qty * price * (1 + r.marketBuyBufferPct / 100)).toBeLessThanOrEqual(p.buyingPower);
  // Exposure after the order: position, gross and sector, pending opening orders on held tickers included.
  const sector = m.sector ?? 'UNCLASSIFIED';
  const heldBy = new Map<string, { qty: number; price: number; sector: string }>();
  let gross = 0;
  let sectorSum = 0;
  for (const x of p.positions) {
    const unit = x.ticker === proposal.ticker ? price : x.marketPrice;
    const s = x.ticker === proposal.ticker ? sector : (x.sector ?? 'UNCLASSIFIED');
    gross += Math.abs(x.qty) * unit;
    if (s === sector) sectorSum += Math.abs(x.qty) * unit;
    heldBy.set(x.ticker, { qty: (heldBy.get(x.ticker)?.qty ?? 0) + x.qty, price: unit, sector: s });
  }
  for (const o of p.openOrders) {
    const h = heldBy.get(o.ticker);
    if (!h || (o.side === 'sell' ? h.qty > 0 : h.qty < 0)) continue;
    gross += o.qty * h.price;
    if (h.sector === sector) sectorSum += o.qty * h.price;
  }
  expect(Math.abs(held) * price + notional).toBeLessThanOrEqual((p.equity * r.maxPositionPct) / 100);
  expect(gross + notional).toBeLessThanOrEqual((p.equity * r.maxGrossExposurePct) / 100);
  expect(sectorSum + notional).toBeLessThanOrEqual((p.equity * r.maxSectorPct) / 100);
  // Count of positions, pending opening orders counted.
  const occupied = new Set(p.positions.filter((x) => x.qty !== 0).map((x) => x.ticker));
  for (const o of p.openOrders) {
    const q = heldBy.get(o.ticker)?.qty ?? 0;
    if (!(o.side === 'sell' ? q > 0 : q < 0)) occupied.add(o.ticker);
  }
  if (!occupied.has(proposal.ticker)) expect(occupied.size + 1).toBeLessThanOrEqual(r.maxPositions);
}

type Tighten = (rules: RiskRules) => RiskRules;

const LOWER = [
  'maxPositions',
  'riskPerTradePct',
  'maxPositionPct',
  'maxGrossExposurePct',
  'maxSectorPct',
  'dailyLossLimitPct',
  'dailyLossReducePct',
  'maxDrawdownPct',
  'maxOrdersPerMinute',
  'maxOrdersPerDay',
  'pdtMaxDayTrades',
  'maxAccountAgeSeconds',
] as const;
const INTEGER = new Set<string>(['maxPositions', 'maxOrdersPerMinute', 'maxOrdersPerDay', 'pdtMaxDayTrades', 'maxAccountAgeSeconds']);
const FLOOR: Record<string, number> = { maxPositions: 10, maxOrdersPerMinute: 1, maxOrdersPerDay: 1, pdtMaxDayTrades: 0, maxAccountAgeSeconds: 1 };
const RAISE = ['minVerdictConfidence', 'pdtEquityThreshold', 'marketBuyBufferPct', 'minPrice', 'minNotional', 'atrStopMultiple'] as const;
const CEILING: Record<string, number> = {
  minVerdictConfidence: 1,
  pdtEquityThreshold: 1e7,
  marketBuyBufferPct: 100,
  minPrice: 1000,
  minNotional: 1e6,
  atrStopMultiple: 10,
};
const SWITCHES = ['allowShort', 'requireMarketOpen'] as const;

/** A random tightening of one or more limits: lower maxima, higher minima, stricter switches. */
const arbTightening: fc.Arbitrary<Tighten> = fc
  .record({
    keys: fc.subarray([...LOWER, ...RAISE, ...SWITCHES], { minLength: 1 }),
    factor: fc.double({ min: 0.05, max: 1, noNaN: true }),
  })
  .map(({ keys, factor }) => (base: RiskRules): RiskRules => {
    const r: Record<string, number | boolean> = { ...base };
    for (const key of keys) {
      const v = r[key];
      if (key === 'allowShort') r[key] = false;
      else if (key === 'requireMarketOpen') r[key] = true;
      else if (typeof v !== 'number') continue;
      else if ((LOWER as readonly string[]).includes(key)) {
        const lowered = INTEGER.has(key) ? Math.floor(v * factor) : v * factor;
        r[key] = Math.max(FLOOR[key] ?? Number.MIN_VALUE, Math.min(v, lowered));
      } else {
        const ceiling = CEILING[key] ?? v;
        r[key] = Math.max(v, Math.min(ceiling, v + (ceiling - v) * (1 - factor) * 0.1));
      }
    }
    // Keep the limits coherent the tighter way: the reduce threshold under the halt threshold, one
    // position's cap under the gross cap.
    const limit = r.dailyLossLimitPct as number;
    if ((r.dailyLossReducePct as number) >= limit) r.dailyLossReducePct = limit / 2;
    r.maxPositionPct = Math.min(r.maxPositionPct as number, r.maxGrossExposurePct as number);
    return RiskRulesSchema.parse(r);
  });

type HaltCause = 'stored' | 'stale' | 'future' | 'missing' | 'dailyLoss' | 'drawdown' | 'invalid';
const arbHaltCause = fc.constantFrom<HaltCause>('stored', 'stale', 'future', 'missing', 'dailyLoss', 'drawdown', 'invalid');

function haltBy(cause: HaltCause, input: DecideInput, extra: number): DecideInput {
  const p = input.portfolio;
  if (!p || cause === 'missing') return { ...input, portfolio: null };
  const r = input.rules;
  const ageMs = Math.ceil((r.maxAccountAgeSeconds + extra * 100) * 1000);
  switch (cause) {
    case 'stored':
      return { ...input, portfolio: { ...p, tradingState: 'HALTED' } };
    case 'stale':
      return { ...input, portfolio: { ...p, asOf: iso(NOW_MS - ageMs) } };
    case 'future':
      return { ...input, portfolio: { ...p, asOf: iso(NOW_MS + ageMs) } };
    case 'dailyLoss': {
      const loss = Math.min(90, r.dailyLossLimitPct + extra);
      return { ...input, portfolio: { ...p, lastEquity: (p.equity * 100) / (100 - loss), tradingState: 'ACTIVE' } };
    }
    case 'drawdown': {
      const dd = Math.min(90, r.maxDrawdownPct + extra);
      return { ...input, portfolio: { ...p, lastEquity: p.equity, peakEquity: (p.equity * 100) / (100 - dd), tradingState: 'ACTIVE' } };
    }
    case 'invalid':
      return { ...input, portfolio: { ...p, equity: extra > 10 ? Number.NaN : -extra } };
  }
  throw new Error(`unknown halt cause ${String(cause)}`);
}

/** Puts the account in REDUCING: by the operator, or by a daily loss between the two thresholds. */
function reduceBy(stored: boolean, input: DecideInput, u: number): DecideInput {
  const p = input.portfolio;
  if (!p) return input;
  if (stored) return { ...input, portfolio: { ...p, tradingState: 'REDUCING', lastEquity: p.equity, peakEquity: p.equity } };
  const r = input.rules;
  const loss = r.dailyLossReducePct + (r.dailyLossLimitPct - r.dailyLossReducePct) * u;
  const lastEquity = (p.equity * 100) / (100 - loss);
  return { ...input, portfolio: { ...p, tradingState: 'ACTIVE', lastEquity, peakEquity: lastEquity } };
}
