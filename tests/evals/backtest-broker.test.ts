/**
 * The backtest's simulated broker, against numbers worked out by hand: next-bar fill prices,
 * commission and slippage arithmetic, stop / target / time exits, cash limits and the risk snapshot.
 */
import { describe, expect, it } from 'vitest';
import { SimBroker, bracketHit, hypotheticalTrade, type CostModel, type PendingOrder } from '../../evals/backtest/broker.ts';
import { PortfolioSnapshot } from '../../contracts/index.ts';
import { dailyBarTs, type Bar } from '../../market/index.ts';

const COSTS: CostModel = { commissionBps: 1, slippageBps: 5 };

/** A close-only bar, like the bundled Dow 30. */
function close(date: string, c: number, ticker = 'GE'): Bar {
  return { ticker, timeframe: '1Day', ts: dailyBarTs(date), open: null, high: null, low: null, close: c, volume: null, source: 'test' };
}

function ohlc(date: string, o: number, h: number, l: number, c: number, ticker = 'GE'): Bar {
  return { ticker, timeframe: '1Day', ts: dailyBarTs(date), open: o, high: h, low: l, close: c, volume: 1_000_000, source: 'test' };
}

function entry(
  qty: number,
  stop: number | null,
  target: number | null,
  holdingDays = 5,
  side: 'buy' | 'sell' = 'buy',
  ticker = 'GE',
  refPrice = 100,
): PendingOrder {
  return { kind: 'entry', ticker, side, qty, stop, target, holdingDays, refPrice, submittedAt: '1995-01-04T14:30:00.000Z', ref: `o-${ticker}` };
}

describe('simulated broker fills', () => {
  it("fills a buy decided the evening before at the next bar's close (no open) plus 5 bps, and charges 1 bp commission", () => {
    const b = new SimBroker('t', COSTS, 100_000);
    b.submit(entry(100, 95, 110));
    const [fill] = b.fillPending(1, '1995-01-04', () => close('1995-01-04', 100));
    // 100 x 1.0005 = 100.05; commission 100 x 100.05 x 0.0001 = 1.0005; cash 100000 - 10005 - 1.0005.
    expect(fill?.price).toBeCloseTo(100.05, 10);
    expect(fill?.commission).toBeCloseTo(1.0005, 10);
    expect(b.cash).toBeCloseTo(89_993.9995, 8);
    expect(b.lots[0]).toMatchObject({ qty: 100, entryDate: '1995-01-04', filledAtOpen: false, stop: 95, target: 110 });
  });

  it('fills at the open when the bar has one, and a sell gets 5 bps less', () => {
    const b = new SimBroker('t', COSTS, 100_000);
    b.submit(entry(10, null, null, 5, 'sell'));
    const [fill] = b.fillPending(1, '1995-01-04', () => ohlc('1995-01-04', 50, 52, 49, 51));
    // 50 x 0.9995 = 49.975; a short's proceeds 10 x 49.975 = 499.75 less commission 0.049975.
    expect(fill?.price).toBeCloseTo(49.975, 10);
    expect(b.cash).toBeCloseTo(100_000 + 499.75 - 0.049975, 8);
    expect(b.lots[0]?.side).toBe('short');
    expect(b.lots[0]?.filledAtOpen).toBe(true);
  });

  it('buys no more than the cash allows and says so', () => {
    const b = new SimBroker('t', COSTS, 1_000);
    b.submit(entry(100, null, null));
    const [fill] = b.fillPending(1, '1995-01-04', () => close('1995-01-04', 100));
    // 1000 / (100.05 x 1.0001) = 9.994 -> 9 shares.
    expect(fill?.qty).toBe(9);
    expect(fill?.rejected).toMatch(/cut from 100 to 9/);
    expect(b.cash).toBeGreaterThanOrEqual(0);
  });

  it('keeps an order for a ticker without a bar that day until its next bar', () => {
    const b = new SimBroker('t', COSTS, 100_000);
    b.submit(entry(10, null, null));
    expect(b.fillPending(1, '1995-01-04', () => null)).toEqual([]);
    expect(b.pending).toHaveLength(1);
    expect(b.fillPending(2, '1995-01-05', () => close('1995-01-05', 20))).toHaveLength(1);
    expect(b.lots[0]?.entryDate).toBe('1995-01-05');
  });
});

describe('simulated broker exits', () => {
  it('a stop checked on closes fills at the crossing close minus slippage; the trade is net of both commissions', () => {
    const b = new SimBroker('t', COSTS, 100_000);
    b.submit(entry(100, 95, 110));
    b.fillPending(1, '1995-01-04', () => close('1995-01-04', 100));
    // Not checked on the fill day: the fill was at that close.
    expect(b.checkBrackets(1, '1995-01-04', () => close('1995-01-04', 90))).toEqual([]);
    expect(b.checkBrackets(2, '1995-01-05', () => close('1995-01-05', 96))).toEqual([]);
    const [exit] = b.checkBrackets(3, '1995-01-06', () => close('1995-01-06', 94));
    // 94 x 0.9995 = 93.953; pnl = (93.953 - 100.05) x 100 - 1.0005 - 100 x 93.953 x 0.0001 = -609.7 - 1.0005 - 0.93953.
    expect(exit?.reason).toBe('stop');
    expect(exit?.price).toBeCloseTo(93.953, 10);
    const t = b.trades[0];
    expect(t?.pnl).toBeCloseTo(-609.7 - 1.0005 - 0.93953, 8);
    expect(t?.returnPct).toBeCloseTo((-609.7 - 1.0005 - 0.93953) / 10_005, 10);
    expect(t).toMatchObject({ entryDate: '1995-01-04', exitDate: '1995-01-06', exitReason: 'stop', quantity: 100 });
    expect(b.lots).toHaveLength(0);
    // Cash is back to the start less the loss.
    expect(b.cash).toBeCloseTo(100_000 + (t?.pnl ?? 0), 8);
  });

  it('a target is a limit: without slippage; on a close-only bar it fills at the close that crossed it (the shared fill model)', () => {
    const b = new SimBroker('t', COSTS, 100_000);
    b.submit(entry(100, 95, 110));
    b.fillPending(1, '1995-01-04', () => close('1995-01-04', 100));
    const [exit] = b.checkBrackets(2, '1995-01-05', () => close('1995-01-05', 112));
    // A close-only bar is open = high = low = close: the limit is reached "at the open", 112.
    expect(exit).toMatchObject({ reason: 'target', price: 112 });
    // (112 - 100.05) x 100 - 1.0005 - 100 x 112 x 0.0001 = 1195 - 1.0005 - 1.12.
    expect(b.trades[0]?.pnl).toBeCloseTo(1195 - 1.0005 - 1.12, 8);
  });

  it('with highs and lows: a gap below the stop fills at the open, and a bar that touches both legs counts as the stop', () => {
    const lot = { side: 'long' as const, stop: 95, target: 110 };
    expect(bracketHit(lot, ohlc('1995-01-05', 93, 94, 92, 93.5), COSTS)).toEqual({ reason: 'stop', price: 93 * 0.9995 });
    expect(bracketHit(lot, ohlc('1995-01-05', 100, 111, 94, 105), COSTS)).toEqual({ reason: 'stop', price: 95 * 0.9995 });
    expect(bracketHit(lot, ohlc('1995-01-05', 112, 113, 111, 112), COSTS)).toEqual({ reason: 'target', price: 112 });
    expect(bracketHit(lot, ohlc('1995-01-05', 100, 109, 96, 105), COSTS)).toBeNull();
  });

  it('an exit order closes lots first in first out, a part of a lot keeps its share of the entry commission', () => {
    const b = new SimBroker('t', COSTS, 100_000);
    b.submit(entry(100, null, null));
    b.fillPending(1, '1995-01-04', () => close('1995-01-04', 100));
    b.submit({ kind: 'exit', ticker: 'GE', qty: 40, lotIds: null, reason: 'reversal', submittedAt: '1995-01-05T14:30:00.000Z', ref: 'x1' });
    b.fillPending(2, '1995-01-05', () => close('1995-01-05', 101));
    // Exit 101 x 0.9995 = 100.9495; pnl = (100.9495 - 100.05) x 40 - 1.0005 x 40/100 - 40 x 100.9495 x 0.0001.
    expect(b.trades[0]?.pnl).toBeCloseTo(0.8995 * 40 - 0.4002 - 0.403798, 8);
    expect(b.lots[0]?.qty).toBe(60);
    expect(b.lots[0]?.entryCommission).toBeCloseTo(1.0005 * 0.6, 10);
  });

  it("marks the book at the close: equity, gross exposure and the day's turnover", () => {
    const b = new SimBroker('t', COSTS, 100_000);
    b.submit(entry(100, null, null));
    b.fillPending(1, '1995-01-04', () => close('1995-01-04', 100));
    const day = b.markToMarket('1995-01-04', () => 100);
    // equity = cash 89993.9995 + 100 x 100; traded 10005.
    expect(day.equity).toBeCloseTo(99_993.9995, 8);
    expect(day.grossExposure).toBeCloseTo(10_000 / 99_993.9995, 10);
    expect(day.turnover).toBeCloseTo(10_005 / 99_993.9995, 10);
    expect(b.markToMarket('1995-01-05', () => 100).turnover).toBe(0);
  });

  it('gives the risk controller a valid snapshot with queued orders as open orders and out of buying power', () => {
    const b = new SimBroker('t', COSTS, 100_000);
    b.submit(entry(100, null, null));
    b.fillPending(1, '1995-01-04', () => close('1995-01-04', 100));
    b.submit(entry(50, null, null, 5, 'buy', 'IBM', 40));
    const snap = b.snapshot({
      now: '1995-01-05T14:30:00.000Z',
      priceOf: () => 100,
      lastEquity: 100_000,
      peakEquity: 100_000,
      sectors: { GE: 'Industrials' },
      last5Days: ['1995-01-04'],
      openedAt: (lot) => dailyBarTs(lot.entryDate),
    });
    expect(PortfolioSnapshot.safeParse(snap).success).toBe(true);
    expect(snap.positions).toEqual([expect.objectContaining({ ticker: 'GE', qty: 100, sector: 'Industrials' })]);
    expect(snap.openOrders.map((o) => o.ticker)).toEqual(['IBM']);
    expect(snap.buyingPower).toBeCloseTo(89_993.9995 - 50 * 40, 8);
  });
});

describe('what a vetoed trade would have returned', () => {
  const bars = ['1995-01-04', '1995-01-05', '1995-01-06', '1995-01-09', '1995-01-10', '1995-01-11', '1995-01-12', '1995-01-13'];

  it('time exit: decided at the close `holdingDays` bars after the fill, filled at the next bar, net of costs', () => {
    const series = bars.map((d, i) => close(d, 100 + i));
    const t = hypotheticalTrade(series, { side: 'long', stop: null, target: null, holdingDays: 5, costs: COSTS });
    // In at 100 x 1.0005 = 100.05 on 01-04; 5 bars later (01-11) the exit is decided; out at 106 x 0.9995 on 01-12.
    const entryPx = 100.05;
    const exitPx = 106 * 0.9995;
    expect(t).toMatchObject({ entryDate: '1995-01-04', exitDate: '1995-01-12', reason: 'time' });
    expect(t?.returnPct).toBeCloseTo((exitPx - entryPx - entryPx * 0.0001 - exitPx * 0.0001) / entryPx, 12);
  });

  it('stop: a loss, so a veto of it counts as a loss avoided', () => {
    const series = [100, 99, 96, 94, 97, 99].map((c, i) => close(bars[i] ?? '', c));
    const t = hypotheticalTrade(series, { side: 'long', stop: 95, target: 110, holdingDays: 5, costs: COSTS });
    expect(t).toMatchObject({ reason: 'stop', exitDate: '1995-01-09' });
    expect(t?.returnPct).toBeLessThan(0);
  });

  it('a short gains when the price falls; data that ends early closes at the last close without exit costs', () => {
    const series = [100, 98, 97].map((c, i) => close(bars[i] ?? '', c));
    const t = hypotheticalTrade(series, { side: 'short', stop: null, target: null, holdingDays: 5, costs: COSTS });
    const entryPx = 100 * 0.9995;
    expect(t).toMatchObject({ reason: 'end', exitDate: '1995-01-06', exitPrice: 97 });
    expect(t?.returnPct).toBeCloseTo((entryPx - 97 - entryPx * 0.0001) / entryPx, 12);
  });
});
