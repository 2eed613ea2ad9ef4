/**
 * The simulated broker of the backtest: a cash account with market orders that fill at the next
 * bar's open (its close when the data has no opens), bracket legs (stop and target) per lot, and
 * commission and slippage in basis points. Pure: no I/O, no clock; the engine drives it day by day.
 *
 * Costs: a buy fills at price x (1 + slippage), a sell at price x (1 - slippage); commission is
 * notional x commissionBps on every fill. A target is a limit order: it fills at its price (or better
 * on a gap), without slippage. A stop is a market order once triggered: slippage applies.
 */
import type { Bar } from '../../market/index.ts';
import type { PortfolioSnapshot, PositionSnapshot } from '../../contracts/index.ts';
import { barDate } from './data.ts';
import type { BacktestDay, BacktestTrade, ExitReason } from './schema.ts';

/** Basis points in one. */
export const BPS = 10_000;

/** Commission and slippage, basis points per side. */
export interface CostModel {
  commissionBps: number;
  slippageBps: number;
}

/** Which price of a bar a market order decided the evening before fills at. */
export function fillBasis(bar: Bar): { price: number; at: 'open' | 'close' } {
  return bar.open !== null ? { price: bar.open, at: 'open' } : { price: bar.close, at: 'close' };
}

/** A market fill price after slippage: buys pay more, sells get less. */
export function slipped(price: number, side: 'buy' | 'sell', costs: CostModel): number {
  const f = costs.slippageBps / BPS;
  return side === 'buy' ? price * (1 + f) : price * (1 - f);
}

/** Commission of a fill. */
export function commissionOf(qty: number, price: number, costs: CostModel): number {
  return (Math.abs(qty) * price * costs.commissionBps) / BPS;
}

/** One open lot: the shares one order bought (or sold short), with its own bracket and time exit. */
export interface Lot {
  id: number;
  ticker: string;
  side: 'long' | 'short';
  qty: number;
  /** Day index and date of the fill. */
  entryIdx: number;
  entryDate: string;
  /** Fill price, slippage included. */
  entryPrice: number;
  /** Entry commission not yet charged to a closed trade (shrinks as parts of the lot close). */
  entryCommission: number;
  /** True when the fill was at the open: the same day's high/low can then trigger the bracket. */
  filledAtOpen: boolean;
  stop: number | null;
  target: number | null;
  /** The stop as first set (R = |entry - initial stop|, for the breakeven move). */
  initialStop: number | null;
  /** Time exit: trading days (bars of the ticker) after the fill. */
  holdingDays: number;
}

/** An order waiting for the next bar. */
export type PendingOrder =
  | {
      kind: 'entry';
      ticker: string;
      side: 'buy' | 'sell';
      qty: number;
      stop: number | null;
      target: number | null;
      holdingDays: number;
      /** The price the order was sized at (the last close), for buying power. */
      refPrice: number;
      submittedAt: string;
      ref: string;
    }
  | {
      kind: 'exit';
      ticker: string;
      /** Shares to close; FIFO over the ticker's lots unless `lotIds` names them. */
      qty: number;
      lotIds: number[] | null;
      reason: ExitReason;
      submittedAt: string;
      ref: string;
    };

/** What the broker did with an order or a bracket. */
export interface FillEvent {
  ticker: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  commission: number;
  kind: 'entry' | 'exit';
  reason: ExitReason | null;
  ref: string;
  /** Set when the order could not be filled (e.g. cash short, no position left). */
  rejected: string | null;
}

/** Where a bracket leg fired on one bar, or null. Stop first when both could have: the worse case. */
export function bracketHit(lot: Pick<Lot, 'side' | 'stop' | 'target'>, bar: Bar, costs: CostModel): { reason: 'stop' | 'target'; price: number } | null {
  const long = lot.side === 'long';
  const ohlc = bar.high !== null && bar.low !== null;
  const adverse = ohlc ? (long ? (bar.low ?? bar.close) : (bar.high ?? bar.close)) : bar.close;
  const favourable = ohlc ? (long ? (bar.high ?? bar.close) : (bar.low ?? bar.close)) : bar.close;
  if (lot.stop !== null && (long ? adverse <= lot.stop : adverse >= lot.stop)) {
    // With OHLC the stop fills at its price, or at the open when the bar gaps through it; with closes
    // only, the close that crossed it is the first price known past the stop.
    const base = ohlc ? (bar.open !== null ? (long ? Math.min(bar.open, lot.stop) : Math.max(bar.open, lot.stop)) : lot.stop) : bar.close;
    return { reason: 'stop', price: slipped(base, long ? 'sell' : 'buy', costs) };
  }
  if (lot.target !== null && (long ? favourable >= lot.target : favourable <= lot.target)) {
    // A limit fills at its price or better: better only when the open gaps through it.
    const base = ohlc && bar.open !== null ? (long ? Math.max(bar.open, lot.target) : Math.min(bar.open, lot.target)) : lot.target;
    return { reason: 'target', price: base };
  }
  return null;
}

/** One closed round trip from a lot (or part of it). */
export function closedTrade(lot: Lot, qty: number, exitDate: string, exitPrice: number, exitCommission: number, reason: ExitReason): BacktestTrade {
  const dir = lot.side === 'long' ? 1 : -1;
  const entryCommission = lot.qty > 0 ? (lot.entryCommission * qty) / lot.qty : 0;
  const pnl = dir * (exitPrice - lot.entryPrice) * qty - entryCommission - exitCommission;
  return {
    ticker: lot.ticker,
    side: lot.side,
    entryDate: lot.entryDate,
    entryPrice: lot.entryPrice,
    exitDate,
    exitPrice,
    quantity: qty,
    pnl,
    returnPct: pnl / (lot.entryPrice * qty),
    exitReason: reason,
  };
}

/** The book of one strategy. */
export class SimBroker {
  cash: number;
  readonly lots: Lot[] = [];
  readonly pending: PendingOrder[] = [];
  readonly trades: BacktestTrade[] = [];
  readonly days: BacktestDay[] = [];
  readonly fills: Array<FillEvent & { date: string }> = [];
  /** Dates of day trades (a lot opened and closed on the same day), for the PDT count. */
  readonly dayTrades: string[] = [];
  private nextLotId = 1;
  private tradedToday = 0;

  constructor(
    readonly name: string,
    readonly costs: CostModel,
    initialCash: number,
  ) {
    this.cash = initialCash;
  }

  /** Queues an order for the next bar. */
  submit(order: PendingOrder): void {
    this.pending.push(order);
  }

  /** Signed shares held in `ticker`. */
  positionQty(ticker: string): number {
    let q = 0;
    for (const l of this.lots) if (l.ticker === ticker) q += l.side === 'long' ? l.qty : -l.qty;
    return q;
  }

  /** Tickers with open lots, sorted. */
  heldTickers(): string[] {
    return [...new Set(this.lots.map((l) => l.ticker))].sort();
  }

  /** Cash plus positions marked at `priceOf` (the last close). */
  equity(priceOf: (ticker: string) => number | null): number {
    let e = this.cash;
    for (const l of this.lots) {
      const p = priceOf(l.ticker) ?? l.entryPrice;
      e += (l.side === 'long' ? 1 : -1) * l.qty * p;
    }
    return e;
  }

  private closeLot(lot: Lot, qty: number, date: string, idx: number, price: number, side: 'buy' | 'sell', reason: ExitReason, ref: string): void {
    const commission = commissionOf(qty, price, this.costs);
    this.trades.push(closedTrade(lot, qty, date, price, commission, reason));
    this.cash += (side === 'sell' ? 1 : -1) * qty * price - commission;
    this.tradedToday += qty * price;
    this.fills.push({ date, ticker: lot.ticker, side, qty, price, commission, kind: 'exit', reason, ref, rejected: null });
    if (idx === lot.entryIdx) this.dayTrades.push(date);
    lot.entryCommission -= lot.qty > 0 ? (lot.entryCommission * qty) / lot.qty : 0;
    lot.qty -= qty;
    if (lot.qty <= 0) this.lots.splice(this.lots.indexOf(lot), 1);
  }

  /**
   * Fills the queued orders at day `idx`'s bar of each ticker (its open, or its close without opens):
   * exits first, so their cash is there for the entries. An order whose ticker has no bar that day
   * waits for the next one.
   */
  fillPending(idx: number, date: string, barOn: (ticker: string) => Bar | null): FillEvent[] {
    this.tradedToday = 0;
    const events: FillEvent[] = [];
    const waiting: PendingOrder[] = [];
    const ordered = [...this.pending.filter((o) => o.kind === 'exit'), ...this.pending.filter((o) => o.kind === 'entry')];
    this.pending.length = 0;
    for (const order of ordered) {
      const bar = barOn(order.ticker);
      if (!bar) {
        waiting.push(order);
        continue;
      }
      const basis = fillBasis(bar);
      if (order.kind === 'exit') {
        let left = order.qty;
        const lots = this.lots.filter((l) => l.ticker === order.ticker && (order.lotIds === null || order.lotIds.includes(l.id)));
        if (lots.length === 0) {
          events.push({ ticker: order.ticker, side: 'sell', qty: 0, price: basis.price, commission: 0, kind: 'exit', reason: order.reason, ref: order.ref, rejected: 'no position left (closed by its bracket first)' });
          continue;
        }
        for (const lot of lots) {
          if (left <= 0) break;
          const q = Math.min(left, lot.qty);
          const side = lot.side === 'long' ? 'sell' : 'buy';
          const price = slipped(basis.price, side, this.costs);
          this.closeLot(lot, q, date, idx, price, side, order.reason, order.ref);
          events.push({ ticker: order.ticker, side, qty: q, price, commission: commissionOf(q, price, this.costs), kind: 'exit', reason: order.reason, ref: order.ref, rejected: null });
          left -= q;
        }
        continue;
      }
      const price = slipped(basis.price, order.side, this.costs);
      let qty = order.qty;
      if (order.side === 'buy') {
        // A cash account: never spend more than the cash (the risk controller sized at the last close).
        const affordable = Math.floor(this.cash / (price * (1 + this.costs.commissionBps / BPS)));
        qty = Math.min(qty, Math.max(0, affordable));
      }
      if (qty <= 0) {
        events.push({ ticker: order.ticker, side: order.side, qty: 0, price, commission: 0, kind: 'entry', reason: null, ref: order.ref, rejected: `cash ${this.cash.toFixed(2)} buys no share at ${price.toFixed(4)}` });
        continue;
      }
      const commission = commissionOf(qty, price, this.costs);
      this.cash += (order.side === 'buy' ? -1 : 1) * qty * price - commission;
      this.tradedToday += qty * price;
      this.lots.push({
        id: this.nextLotId++,
        ticker: order.ticker,
        side: order.side === 'buy' ? 'long' : 'short',
        qty,
        entryIdx: idx,
        entryDate: date,
        entryPrice: price,
        entryCommission: commission,
        filledAtOpen: basis.at === 'open',
        stop: order.stop,
        target: order.target,
        initialStop: order.stop,
        holdingDays: order.holdingDays,
      });
      const ev: FillEvent = { ticker: order.ticker, side: order.side, qty, price, commission, kind: 'entry', reason: null, ref: order.ref, rejected: qty < order.qty ? `cut from ${order.qty} to ${qty}: cash` : null };
      this.fills.push({ ...ev, date });
      events.push(ev);
    }
    this.pending.push(...waiting);
    return events;
  }

  /**
   * Checks every lot's bracket against day `idx`'s bar. A lot filled at this day's open is checked
   * on the same bar only when the bar has a high and low; a lot filled at a close is checked from the
   * next bar on (with closes only, stops and targets are checked on closes).
   */
  checkBrackets(idx: number, date: string, barOn: (ticker: string) => Bar | null): FillEvent[] {
    const events: FillEvent[] = [];
    for (const lot of [...this.lots]) {
      const bar = barOn(lot.ticker);
      if (!bar) continue;
      const sameDay = lot.entryIdx === idx;
      if (sameDay && !(lot.filledAtOpen && bar.high !== null && bar.low !== null)) continue;
      const hit = bracketHit(lot, bar, this.costs);
      if (!hit) continue;
      const side = lot.side === 'long' ? 'sell' : 'buy';
      const qty = lot.qty;
      this.closeLot(lot, qty, date, idx, hit.price, side, hit.reason, `bracket:${lot.id}`);
      events.push({ ticker: lot.ticker, side, qty, price: hit.price, commission: commissionOf(qty, hit.price, this.costs), kind: 'exit', reason: hit.reason, ref: `bracket:${lot.id}`, rejected: null });
    }
    return events;
  }

  /** The day's close: equity, cash, gross exposure and turnover, recorded and returned. */
  markToMarket(date: string, priceOf: (ticker: string) => number | null): BacktestDay {
    const equity = this.equity(priceOf);
    let gross = 0;
    for (const l of this.lots) gross += l.qty * (priceOf(l.ticker) ?? l.entryPrice);
    const day: BacktestDay = {
      date,
      equity: Math.max(0, equity),
      cash: this.cash,
      grossExposure: equity > 0 ? gross / equity : 0,
      turnover: equity > 0 ? this.tradedToday / equity : 0,
    };
    this.days.push(day);
    this.tradedToday = 0;
    return day;
  }

  /** Closes every open lot at its last close (reason `end`, no costs: the same mark as the equity curve). */
  closeAllAtEnd(date: string, idx: number, priceOf: (ticker: string) => number | null): void {
    for (const lot of [...this.lots]) {
      const price = priceOf(lot.ticker) ?? lot.entryPrice;
      this.trades.push(closedTrade(lot, lot.qty, date, price, 0, 'end'));
      if (idx === lot.entryIdx) this.dayTrades.push(date);
    }
    this.lots.length = 0;
  }

  /**
   * The account as the risk controller sees it at `now`: positions marked at the last close, the
   * queued orders as open orders (and their estimated cost out of buying power), today's orders for
   * the throttle, day trades in the last 5 trading days.
   */
  snapshot(input: {
    now: string;
    priceOf: (ticker: string) => number | null;
    lastEquity: number;
    peakEquity: number;
    sectors: Readonly<Record<string, string>>;
    /** Trading days of the last 5 (for the PDT count). */
    last5Days: readonly string[];
    openedAt: (lot: Lot) => string;
  }): PortfolioSnapshot {
    const equity = this.equity(input.priceOf);
    const positions: PositionSnapshot[] = [];
    for (const ticker of this.heldTickers()) {
      const lots = this.lots.filter((l) => l.ticker === ticker);
      const qty = this.positionQty(ticker);
      const shares = lots.reduce((a, l) => a + l.qty, 0);
      const avg = lots.reduce((a, l) => a + l.entryPrice * l.qty, 0) / shares;
      const first = lots.reduce((a, l) => (l.entryIdx < a.entryIdx ? l : a));
      positions.push({
        ticker,
        qty,
        avgPrice: avg,
        marketPrice: input.priceOf(ticker) ?? avg,
        sector: input.sectors[ticker] ?? null,
        openedAt: input.openedAt(first),
      });
    }
    let pendingCost = 0;
    for (const o of this.pending) if (o.kind === 'entry' && o.side === 'buy') pendingCost += o.qty * o.refPrice;
    const recent = new Set(input.last5Days);
    return {
      asOf: input.now,
      equity,
      cash: this.cash,
      buyingPower: Math.max(0, this.cash - pendingCost),
      lastEquity: input.lastEquity,
      peakEquity: input.peakEquity,
      positions,
      openOrders: this.pending.map((o) => ({
        ticker: o.ticker,
        side: o.kind === 'entry' ? o.side : this.positionQty(o.ticker) < 0 ? 'buy' : 'sell',
        qty: Math.max(1, o.qty),
        clientOrderId: o.ref,
        submittedAt: o.submittedAt,
      })),
      dayTradesLast5Days: this.dayTrades.filter((d) => recent.has(d)).length,
      recentOrderTimes: this.pending.map((o) => o.submittedAt).sort(),
      tradingState: 'ACTIVE',
    };
  }
}

/** The outcome of a hypothetical trade (a vetoed proposal taken anyway). */
export interface HypotheticalTrade {
  entryDate: string;
  exitDate: string;
  entryPrice: number;
  exitPrice: number;
  reason: ExitReason;
  /** Net of commission and slippage on both sides, a fraction of the entry notional. */
  returnPct: number;
}

/**
 * What a trade would have returned: entered at the fill price of `bars[0]` (the bar after the
 * decision), then out at its stop or target (same rules as the broker) or, after `holdingDays`
 * more bars, at the next bar's fill price, or at the last bar's close when the bars run out.
 * `bars` are the ticker's bars from the one after the decision on.
 */
export function hypotheticalTrade(
  bars: readonly Bar[],
  input: { side: 'long' | 'short'; stop: number | null; target: number | null; holdingDays: number; costs: CostModel },
): HypotheticalTrade | null {
  const entryBar = bars[0];
  if (!entryBar) return null;
  const { costs } = input;
  const long = input.side === 'long';
  const basis = fillBasis(entryBar);
  const entryPrice = slipped(basis.price, long ? 'buy' : 'sell', costs);
  const lot = { side: input.side, stop: input.stop, target: input.target };
  const result = (exitBar: Bar, exitPrice: number, reason: ExitReason, exitCosts: boolean): HypotheticalTrade => {
    const gross = (long ? 1 : -1) * (exitPrice - entryPrice);
    const fees = (entryPrice * costs.commissionBps) / BPS + (exitCosts ? (exitPrice * costs.commissionBps) / BPS : 0);
    return { entryDate: barDate(entryBar), exitDate: barDate(exitBar), entryPrice, exitPrice, reason, returnPct: (gross - fees) / entryPrice };
  };
  for (let k = 0; k < bars.length; k++) {
    const bar = bars[k];
    if (!bar) break;
    const checkable = k > 0 || (basis.at === 'open' && bar.high !== null && bar.low !== null);
    if (checkable) {
      const hit = bracketHit(lot, bar, costs);
      if (hit) return result(bar, hit.price, hit.reason, true);
    }
    // The time exit is decided at the close `holdingDays` bars after the fill and fills at the next bar.
    if (k >= input.holdingDays) {
      const next = bars[k + 1];
      if (next) return result(next, slipped(fillBasis(next).price, long ? 'sell' : 'buy', costs), 'time', true);
      return result(bar, bar.close, 'end', false);
    }
  }
  const lastBar = bars[bars.length - 1] ?? entryBar;
  return result(lastBar, lastBar.close, 'end', false);
}
