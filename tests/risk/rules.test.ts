/**
 * One rule at a time, with its numbers. The base input (tests/support/risk-fixtures.ts): a fresh $100k
 * account, buy MSFT at $100 with ATR 2, default rules -> stop distance 2 x 2 = 4, risk budget
 * 0.5% = $500, so 125 shares by risk; 10% of equity caps the position at 100 shares.
 */
import { describe, expect, it } from 'vitest';
import { RiskDecision, type RiskDecision as Decision } from '../../contracts/index.ts';
import { checkCancel, checkExit, decide } from '../../risk/index.ts';
import { NOW, NOW_MS, input, iso, market, openOrder, portfolio, position, proposal, rules, verdict } from '../support/risk-fixtures.ts';

const ALL_RULES = [
  'ACCOUNT_FRESH',
  'DAILY_LOSS',
  'MAX_DRAWDOWN',
  'TRADING_STATE',
  'INPUT_MATCH',
  'DECISION_ALLOWED',
  'MIN_CONFIDENCE',
  'SIZE_MULTIPLIER',
  'MARKET_HOURS',
  'MIN_PRICE',
  'NO_CROSS_ZERO',
  'ONE_OPEN_ORDER_PER_TICKER',
  'ORDER_THROTTLE',
  'PDT_GUARD',
  'MAX_POSITIONS',
  'RISK_PER_TRADE',
  'MAX_POSITION_PCT',
  'MAX_GROSS_EXPOSURE',
  'SECTOR_CAP',
  'BUYING_POWER',
  'MIN_NOTIONAL',
];

function rule(d: Decision, name: string): { passed: boolean; detail: string } {
  const r = d.rules.find((x) => x.rule === name);
  if (!r) throw new Error(`rule ${name} not recorded`);
  return { passed: r.passed, detail: r.detail };
}

const failed = (d: Decision): string[] => d.rules.filter((r) => !r.passed).map((r) => r.rule);

describe('decide: sizing, stops and the result', () => {
  it('allows a half-size order with an ATR stop and a 2R target, recording every rule', () => {
    const d = decide(input({ verdict: verdict({ decision: 'REDUCE', sizeMultiplier: 0.5 }) }));
    expect(RiskDecision.parse(d)).toEqual(d);
    expect(d).toMatchObject({
      action: 'ALLOW',
      requestedQty: 62,
      finalQty: 62,
      entryPrice: 100,
      stop: 96,
      target: 108,
      tradingState: 'ACTIVE',
      decidedAt: NOW,
    });
    expect(d.rules.map((r) => r.rule)).toEqual(ALL_RULES);
    expect(failed(d)).toEqual([]);
    expect(rule(d, 'RISK_PER_TRADE').detail).toBe(
      'RISK_PER_TRADE: equity=100000.00 risk=0.50%=500.00 stopDistance=2.00xATR(2.0000)=4.0000 maxQty=125 stop=96.00 target=108.00',
    );
    expect(rule(d, 'SIZE_MULTIPLIER').detail).toBe('SIZE_MULTIPLIER: multiplier=0.5 allowed=[0,1] base=125 requested=62');
  });

  it('resizes to the max-position cap when the risk size is larger', () => {
    const d = decide(input());
    expect(d).toMatchObject({ action: 'RESIZE', requestedQty: 125, finalQty: 100, limitedBy: ['MAX_POSITION_PCT'] });
    expect(rule(d, 'MAX_POSITION_PCT')).toEqual({
      passed: true,
      detail: 'MAX_POSITION_PCT: position(MSFT)=0.00 limit=10.00% of equity 100000.00=10000.00 price=100.00 maxQty=100',
    });
  });

  it("places a short's stop above and target below the entry when shorting is allowed", () => {
    const d = decide(input({ proposal: proposal({ side: 'sell' }), rules: rules({ allowShort: true }), verdict: verdict({ sizeMultiplier: 0.4 }) }));
    expect(d).toMatchObject({ action: 'ALLOW', finalQty: 50, stop: 104, target: 92 });
  });

  it('rounds the stop toward the entry so the realised risk stays within the budget', () => {
    const d = decide(input({ market: market({ lastPrice: 100.005, atr: 1.2345 }), verdict: verdict({ sizeMultiplier: 0.5 }) }));
    // distance 2.469: raw stop 97.536 -> 97.54 (toward entry), target 104.943 -> 104.94.
    expect(d.stop).toBe(97.54);
    expect(d.target).toBe(104.94);
    expect(d.finalQty * (100.005 - (d.stop ?? 0))).toBeLessThanOrEqual(500);
  });

  it('denies when the ATR is missing: no stop can be sized (fail closed)', () => {
    const d = decide(input({ market: market({ atr: null }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'RISK_PER_TRADE')).toEqual({ passed: false, detail: 'RISK_PER_TRADE: atr=missing price=100.00: cannot size a stop (fail closed)' });
  });

  it('denies when the stop would be at or below zero', () => {
    const d = decide(input({ market: market({ lastPrice: 10, atr: 6 }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'RISK_PER_TRADE').detail).toMatch(/stop=-2\.00 .*not a positive price/);
  });

  it('uses baseQty, times the multiplier, as the requested size', () => {
    const d = decide(input({ baseQty: 40, verdict: verdict({ sizeMultiplier: 0.5 }) }));
    expect(d).toMatchObject({ action: 'ALLOW', requestedQty: 20, finalQty: 20 });
  });
});

describe('decide: verdict rules', () => {
  it('denies a verdict less confident than the minimum', () => {
    const d = decide(input({ verdict: verdict({ confidence: 0.5 }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'MIN_CONFIDENCE')).toEqual({ passed: false, detail: 'MIN_CONFIDENCE: confidence=0.500 min=0.550' });
  });

  it.each(['REJECT', 'ABSTAIN'] as const)('denies a %s verdict', (decision) => {
    const d = decide(input({ verdict: verdict({ decision, sizeMultiplier: 0 }) }));
    expect(d).toMatchObject({ action: 'DENY', finalQty: 0, stop: null, target: null });
    expect(rule(d, 'DECISION_ALLOWED')).toEqual({ passed: false, detail: `DECISION_ALLOWED: decision=${decision} allowed=APPROVE,REDUCE` });
    expect(rule(d, 'SIZE_MULTIPLIER').detail).toBe('SIZE_MULTIPLIER: multiplier=0 allowed=[0,1] base=125 requested=0');
  });

  it('denies when the verdict is for another proposal or the market snapshot for another ticker', () => {
    const d1 = decide(input({ verdict: verdict({ proposalId: 'other' }) }));
    expect(rule(d1, 'INPUT_MATCH')).toEqual({ passed: false, detail: 'INPUT_MATCH: proposal=proposal-1 verdict.proposalId=other ticker=MSFT market=MSFT' });
    const d2 = decide(input({ market: market({ ticker: 'AAPL' }) }));
    expect(d2.action).toBe('DENY');
    expect(rule(d2, 'INPUT_MATCH').passed).toBe(false);
  });

  it('clamps and denies a multiplier above 1 or NaN that got past the schema', () => {
    for (const bad of [3, Number.NaN, -0.5]) {
      const d = decide(input({ verdict: { ...verdict(), sizeMultiplier: bad } }));
      expect(d.action).toBe('DENY');
      expect(d.requestedQty).toBeLessThanOrEqual(125);
      expect(rule(d, 'SIZE_MULTIPLIER')).toMatchObject({ passed: false, detail: expect.stringContaining(`multiplier=${String(bad)} allowed=[0,1]`) });
    }
  });
});

describe('decide: account and market rules', () => {
  it('denies opening a 13th position: MAX_POSITIONS open=12 limit=12', () => {
    const held = ['AAPL', 'NVDA', 'XOM', 'CVX', 'JPM', 'BAC', 'PFE', 'JNJ', 'KO', 'PEP', 'WMT', 'HD'].map((ticker) =>
      position({ ticker, qty: 1, marketPrice: 10, sector: 'Other' }),
    );
    const d = decide(input({ portfolio: portfolio({ positions: held }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'MAX_POSITIONS')).toEqual({ passed: false, detail: 'MAX_POSITIONS: open=12 limit=12' });
    // Adding to a held ticker does not open a new position.
    const add = decide(input({ portfolio: portfolio({ positions: [...held.slice(0, 11), position({ ticker: 'MSFT', qty: 1, marketPrice: 100 })] }) }));
    expect(rule(add, 'MAX_POSITIONS')).toEqual({ passed: true, detail: 'MAX_POSITIONS: open=12 limit=12 (adds to a held or pending ticker)' });
  });

  it('counts a pending opening order as a position', () => {
    const held = ['AAPL', 'NVDA', 'XOM', 'CVX', 'JPM', 'BAC', 'PFE', 'JNJ', 'KO', 'PEP', 'WMT'].map((ticker) =>
      position({ ticker, qty: 1, marketPrice: 10, sector: 'Other' }),
    );
    const d = decide(input({ portfolio: portfolio({ positions: held, openOrders: [openOrder({ ticker: 'HD', side: 'buy' })] }) }));
    expect(rule(d, 'MAX_POSITIONS')).toEqual({ passed: false, detail: 'MAX_POSITIONS: open=12 limit=12' });
  });

  it('resizes to the gross exposure left', () => {
    const d = decide(input({ portfolio: portfolio({ positions: [position({ ticker: 'XOM', qty: 950, marketPrice: 100, sector: 'Energy' })] }) }));
    expect(d).toMatchObject({ action: 'RESIZE', finalQty: 50, limitedBy: ['MAX_GROSS_EXPOSURE'] });
    expect(rule(d, 'MAX_GROSS_EXPOSURE').detail).toBe('MAX_GROSS_EXPOSURE: gross=95000.00 limit=100.00% of equity 100000.00=100000.00 price=100.00 maxQty=50');
  });

  it('values pending opening orders in the gross exposure, and says how many it could not price', () => {
    const d = decide(
      input({
        portfolio: portfolio({
          positions: [position({ ticker: 'XOM', qty: 900, marketPrice: 100, sector: 'Energy' })],
          openOrders: [openOrder({ ticker: 'XOM', side: 'buy', qty: 40 }), openOrder({ ticker: 'KO', side: 'buy', qty: 5, clientOrderId: 'c2' })],
        }),
      }),
    );
    expect(rule(d, 'MAX_GROSS_EXPOSURE').detail).toBe(
      'MAX_GROSS_EXPOSURE: gross=94000.00 limit=100.00% of equity 100000.00=100000.00 price=100.00 maxQty=60 unpricedPendingOrders=1',
    );
  });

  it('resizes to what the sector cap leaves, unclassified tickers sharing one bucket', () => {
    const d = decide(input({ portfolio: portfolio({ positions: [position({ ticker: 'AAPL', qty: 295, marketPrice: 100, sector: 'Tech' })] }) }));
    expect(d).toMatchObject({ action: 'RESIZE', finalQty: 5, limitedBy: ['SECTOR_CAP'] });
    expect(rule(d, 'SECTOR_CAP').detail).toBe('SECTOR_CAP: sector(Tech)=29500.00 limit=30.00% of equity 100000.00=30000.00 price=100.00 maxQty=5');
    const unclassified = decide(
      input({
        market: market({ sector: null }),
        portfolio: portfolio({ positions: [position({ ticker: 'AAPL', qty: 300, marketPrice: 100, sector: null })] }),
      }),
    );
    expect(rule(unclassified, 'SECTOR_CAP')).toMatchObject({ passed: false, detail: expect.stringContaining('sector(UNCLASSIFIED)=30000.00') });
  });

  it('values a market buy 3% above the last price against buying power', () => {
    const d = decide(input({ portfolio: portfolio({ buyingPower: 5_150 }) }));
    expect(d).toMatchObject({ action: 'RESIZE', finalQty: 50, limitedBy: ['BUYING_POWER'] });
    expect(rule(d, 'BUYING_POWER').detail).toBe('BUYING_POWER: buyingPower=5150.00 price=100.00+3.00%=103.0000/share maxQty=50');
    // Without the buffer 5,150 would buy 51 shares.
    expect(decide(input({ portfolio: portfolio({ buyingPower: 5_150 }), rules: rules({ marketBuyBufferPct: 0 }) })).finalQty).toBe(51);
  });

  it('denies a stock below the minimum price', () => {
    const d = decide(input({ market: market({ lastPrice: 4, atr: 0.1 }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'MIN_PRICE')).toEqual({ passed: false, detail: 'MIN_PRICE: price=4.00 min=5.00' });
  });

  it('denies an order below the minimum notional', () => {
    const d = decide(input({ baseQty: 1, market: market({ lastPrice: 99 }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'MIN_NOTIONAL')).toEqual({ passed: false, detail: 'MIN_NOTIONAL: qty=1 notional=99.00 min=100.00' });
  });

  it('denies opening a short when shorting is not allowed', () => {
    const d = decide(input({ proposal: proposal({ side: 'sell' }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'NO_CROSS_ZERO')).toEqual({ passed: false, detail: 'NO_CROSS_ZERO: position=0 side=sell would open or add to a short, allowShort=false' });
  });

  it('caps a sell at the long position so it never crosses to short', () => {
    const d = decide(
      input({ proposal: proposal({ side: 'sell' }), baseQty: 150, portfolio: portfolio({ positions: [position({ ticker: 'MSFT', qty: 100 })] }) }),
    );
    expect(d).toMatchObject({ action: 'RESIZE', requestedQty: 150, finalQty: 100, stop: null, target: null });
    expect(rule(d, 'NO_CROSS_ZERO').detail).toBe('NO_CROSS_ZERO: position=+100 side=sell maxQty=100 (closes at most the position)');
    // Even with shorting allowed, one order never goes from long to short.
    expect(
      decide(
        input({
          proposal: proposal({ side: 'sell' }),
          baseQty: 150,
          rules: rules({ allowShort: true }),
          portfolio: portfolio({ positions: [position({ ticker: 'MSFT', qty: 100 })] }),
        }),
      ).finalQty,
    ).toBe(100);
  });

  it('denies a second open order on the same ticker', () => {
    const d = decide(input({ portfolio: portfolio({ openOrders: [openOrder({ ticker: 'MSFT' })] }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'ONE_OPEN_ORDER_PER_TICKER')).toEqual({
      passed: false,
      detail: 'ONE_OPEN_ORDER_PER_TICKER: openOrders(MSFT)=1 limit=1 including this order',
    });
  });

  it('throttles at 10 orders in the last minute', () => {
    const times = Array.from({ length: 10 }, (_, i) => iso(NOW_MS - 55_000 + i * 5_000));
    const d = decide(input({ portfolio: portfolio({ recentOrderTimes: times }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'ORDER_THROTTLE')).toEqual({ passed: false, detail: 'ORDER_THROTTLE: lastMinute=10+1 limit=10/min today=10+1 limit=50/day' });
    expect(rule(decide(input({ portfolio: portfolio({ recentOrderTimes: times.slice(1) }) })), 'ORDER_THROTTLE').passed).toBe(true);
  });

  it('throttles at 50 orders in the New York trading day, not counting yesterday', () => {
    // 09:30 New York = 13:30 UTC in March (DST); 50 orders a minute apart from then.
    const start = Date.parse('2024-03-12T13:30:00Z');
    const today = Array.from({ length: 50 }, (_, i) => iso(start + i * 60_000));
    expect(rule(decide(input({ portfolio: portfolio({ recentOrderTimes: today }) })), 'ORDER_THROTTLE')).toEqual({
      passed: false,
      detail: 'ORDER_THROTTLE: lastMinute=0+1 limit=10/min today=50+1 limit=50/day',
    });
    // 03:59 UTC on the 12th is still the 11th in New York.
    const yesterday = Array.from({ length: 50 }, (_, i) => iso(Date.parse('2024-03-12T03:59:00Z') - i * 60_000));
    expect(rule(decide(input({ portfolio: portfolio({ recentOrderTimes: yesterday }) })), 'ORDER_THROTTLE').passed).toBe(true);
  });

  it('denies outside market hours, unless the rules do not require them', () => {
    const closed = market({ marketOpen: false });
    const d = decide(input({ market: closed }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'MARKET_HOURS')).toEqual({ passed: false, detail: `MARKET_HOURS: marketOpen=false required=true asOf=${NOW}` });
    expect(decide(input({ market: closed, rules: rules({ requireMarketOpen: false }) })).action).not.toBe('DENY');
  });
});

describe('decide: the pattern-day-trader guard', () => {
  const small = (overrides: Parameters<typeof portfolio>[0] = {}) =>
    portfolio({ equity: 20_000, lastEquity: 20_000, peakEquity: 20_000, buyingPower: 40_000, ...overrides });
  const openedToday = iso(NOW_MS - 3_600_000);

  it('denies a new entry that could be a 4th day trade under $25k', () => {
    const d = decide(input({ portfolio: small({ dayTradesLast5Days: 3 }) }));
    expect(d.action).toBe('DENY');
    expect(rule(d, 'PDT_GUARD')).toEqual({
      passed: false,
      detail: 'PDT_GUARD: equity=20000.00 < 25000.00 dayTrades5d=3 pending=0 thisOrder=1 total=4 limit=3',
    });
    expect(rule(decide(input({ portfolio: small({ dayTradesLast5Days: 2 }) })), 'PDT_GUARD').passed).toBe(true);
  });

  it('counts pending orders that would close a position opened today', () => {
    const d = decide(
      input({
        portfolio: small({
          dayTradesLast5Days: 2,
          positions: [position({ ticker: 'AAPL', qty: 5, openedAt: openedToday })],
          openOrders: [openOrder({ ticker: 'AAPL', side: 'sell', qty: 5 })],
        }),
      }),
    );
    expect(rule(d, 'PDT_GUARD')).toEqual({
      passed: false,
      detail: 'PDT_GUARD: equity=20000.00 < 25000.00 dayTrades5d=2 pending=1 thisOrder=1 total=4 limit=3',
    });
  });

  it('denies closing a position opened today as a 4th day trade, allows closing an older one', () => {
    const sell = { proposal: proposal({ side: 'sell' }) };
    const today = decide(
      input({ ...sell, portfolio: small({ dayTradesLast5Days: 3, positions: [position({ ticker: 'MSFT', qty: 10, openedAt: openedToday })] }) }),
    );
    expect(rule(today, 'PDT_GUARD').passed).toBe(false);
    const older = decide(
      input({ ...sell, portfolio: small({ dayTradesLast5Days: 3, positions: [position({ ticker: 'MSFT', qty: 10, openedAt: '2024-03-08T15:00:00.000Z' })] }) }),
    );
    expect(rule(older, 'PDT_GUARD')).toEqual({
      passed: true,
      detail: 'PDT_GUARD: equity=20000.00 < 25000.00 dayTrades5d=3 pending=0 thisOrder=0 total=3 limit=3',
    });
    expect(older).toMatchObject({ action: 'ALLOW', finalQty: 10 });
  });

  it('does not apply at or above $25k of equity', () => {
    const d = decide(input({ portfolio: portfolio({ dayTradesLast5Days: 5 }) }));
    expect(rule(d, 'PDT_GUARD')).toEqual({ passed: true, detail: 'PDT_GUARD: equity=100000.00 >= 25000.00: not applicable' });
  });
});

describe('every rule is recorded', () => {
  it('evaluates and records all rules with their numbers even when the first one already denies', () => {
    const d = decide(
      input({
        portfolio: portfolio({ asOf: iso(NOW_MS - 600_000), tradingState: 'HALTED' }),
        verdict: verdict({ confidence: 0.1 }),
        market: market({ marketOpen: false }),
      }),
    );
    expect(d.action).toBe('DENY');
    expect(d.rules.map((r) => r.rule)).toEqual(ALL_RULES);
    expect(failed(d)).toEqual(['ACCOUNT_FRESH', 'TRADING_STATE', 'MIN_CONFIDENCE', 'MARKET_HOURS']);
    expect(rule(d, 'MAX_POSITION_PCT').detail).toContain('maxQty=100');
    for (const r of d.rules) expect(r.detail.startsWith(`${r.rule}: `)).toBe(true);
  });
});

describe('exits and cancels', () => {
  const held = portfolio({ positions: [position({ ticker: 'MSFT', qty: 80 }), position({ ticker: 'XOM', qty: -30, sector: 'Energy' })] });

  it('closes a whole long position by default and a short with a buy', () => {
    const long = checkExit({ ticker: 'MSFT', reason: 'time-exit', portfolio: held, market: market(), rules: rules(), now: NOW });
    expect(long).toMatchObject({ action: 'ALLOW', side: 'sell', requestedQty: 80, finalQty: 80, reason: 'time-exit' });
    const short = checkExit({ ticker: 'XOM', reason: 'macd-reversal', portfolio: held, market: market({ ticker: 'XOM' }), rules: rules(), now: NOW });
    expect(short).toMatchObject({ action: 'ALLOW', side: 'buy', finalQty: 30 });
  });

  it('caps an exit at the position and denies one with nothing to reduce', () => {
    expect(checkExit({ ticker: 'MSFT', qty: 500, reason: 'stop', portfolio: held, market: market(), rules: rules(), now: NOW })).toMatchObject({
      action: 'RESIZE',
      finalQty: 80,
    });
    const none = checkExit({ ticker: 'KO', reason: 'stop', portfolio: held, market: market({ ticker: 'KO' }), rules: rules(), now: NOW });
    expect(none).toMatchObject({ action: 'DENY', side: null, finalQty: 0 });
    expect(none.rules.find((r) => r.rule === 'NO_CROSS_ZERO')?.detail).toBe('NO_CROSS_ZERO: position=0 in KO: nothing to reduce');
  });

  it('allows an exit while REDUCING and denies it while HALTED', () => {
    const reducing = checkExit({
      ticker: 'MSFT',
      reason: 'time-exit',
      portfolio: { ...held, tradingState: 'REDUCING' },
      market: market(),
      rules: rules(),
      now: NOW,
    });
    expect(reducing).toMatchObject({ action: 'ALLOW', tradingState: 'REDUCING' });
    const halted = checkExit({
      ticker: 'MSFT',
      reason: 'time-exit',
      portfolio: { ...held, tradingState: 'HALTED' },
      market: market(),
      rules: rules(),
      now: NOW,
    });
    expect(halted).toMatchObject({ action: 'DENY', tradingState: 'HALTED', finalQty: 0 });
  });

  it('denies an exit while the ticker has an open order (cancel the bracket legs first)', () => {
    const d = checkExit({
      ticker: 'MSFT',
      reason: 'time-exit',
      portfolio: { ...held, openOrders: [openOrder({ ticker: 'MSFT', side: 'sell' })] },
      market: market(),
      rules: rules(),
      now: NOW,
    });
    expect(d.action).toBe('DENY');
  });

  it('lets a cancel through in every state, even without account data', () => {
    for (const p of [portfolio(), portfolio({ tradingState: 'HALTED' }), null, undefined]) {
      const c = checkCancel({ portfolio: p, rules: rules(), now: NOW, clientOrderId: 'q-1' });
      expect(c.allowed).toBe(true);
      expect(c.rule.passed).toBe(true);
    }
    expect(checkCancel({ portfolio: null, rules: rules(), now: NOW, clientOrderId: 'q-1' }).rule.detail).toBe(
      'CANCEL_ALLOWED: cancel q-1 allowed in state=HALTED',
    );
  });
});

describe('output always fits the RiskDecision schema', () => {
  it('clips an over-long detail (unbounded ids) to 500 characters', () => {
    const id = `p-${'x'.repeat(600)}`;
    const d = decide(input({ proposal: proposal({ id }), verdict: verdict({ proposalId: id }) }));
    expect(rule(d, 'INPUT_MATCH').detail).toHaveLength(500);
    expect(RiskDecision.safeParse(d).success).toBe(true);
  });
});
