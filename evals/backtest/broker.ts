/**
 * The simulated broker of the backtest: a cash account with market orders that fill at the next
 * bar's open (its close when the data has no opens), bracket legs (stop and target) per lot, and
 * commission and slippage in basis points. Pure: no I/O, no clock; the engine drives it day by day.
 *
 * Costs: a buy fills at price x (1 + slippage), a sell at price x (1 - slippage); commission is
 * notional x commissionBps, plus shares x commissionPerShare when set (the paper exchange's setting), on
 * every fill. A target is a limit order: it fills at its price (or better on a gap; at the crossing
 * close on close-only data), without slippage. A stop is a market order once
 * triggered: slippage applies. Every price rule is execution/fill-model.ts, shared with the paper exchange.
 */
import { BPS, bracketExit, commissionOf as fillCommission, marketFillBasis, slipped as fillSlipped } from '../../execution/index.ts';
import type { Bar } from '../../market/index.ts';
import type { PortfolioSnapshot, PositionSnapshot } from '../../contracts/index.ts';
import { barDate } from './data.ts';
import type { BacktestDay, BacktestTrade, ExitReason } from './schema.ts';

export { BPS };

/** Commission and slippage, basis points per side; optionally a per-share commission too (the paper exchange's). */
export interface CostModel {
  commissionBps: number;
  slippageBps: number;
  /** Per share and side, on top of commissionBps (default 0): lets a run use the paper exchange's commission setting. */
  commissionPerShare?: number;
}

/** Which price of a bar a market order decided the evening before fills at (the fill model's rule). */
export function fillBasis(bar: Bar): { price: number; at: 'open' | 'close' } {
  return marketFillBasis(bar);
}

/** A market fill price after slippage: buys pay more, sells get less. */
export function slipped(price: number, side: 'buy' | 'sell', costs: CostModel): number {
  return fillSlipped(price, side, costs.slippageBps);
}

/** Commission of a fill. */
export function commissionOf(qty: number, price: number, costs: CostModel): number {
  return fillCommission(qty, price, { commissionBps: costs.commissionBps, commissionPerShare: costs.commissionPerShare ?? 0 });
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
  /** The entry order's ref (the proposal behind it). */
  ref: string;
}

/** A lot closed in full: when, at what mean exit price and why (what the position did, for outcome memory). */
export interface LotClose {
  /** The entry order's ref. */
  ref: string;
  ticker: string;
  side: 'long' | 'short';
  entryIdx: number;
  entryPrice: number;
  /** Day index and date of the fill that closed the lot's last share. */
  exitIdx: number;
  exitDate: string;
  /** Mean exit price over the lot's shares. */
  exitPrice: number;
  reason: ExitReason;
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

/** Where a bracket leg fired on one bar, or null: the fill model's `bracketExit` (stop first when both could have). */
export function bracketHit(lot: Pick<Lot, 'side' | 'stop' | 'target'>, bar: Bar, costs: CostModel): { reason: 'stop' | 'target'; price: number } | null {
  return bracketExit(lot, bar, costs);
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
  /** Lots closed in full, in the order they closed. */
  readonly closedLots: LotClose[] = [];
  /** Shares and exit value closed so far, per open lot id (a lot may close in parts). */
  private readonly exited = new Map<number, { qty: number; value: number }>();
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

  /**
   * Tickers with an order working at this broker, as a session reads them from a real one (its open
   * orders): an order waiting for its bar, or a lot's bracket legs (a stop or a target).
   */
  workingTickers(): Set<string> {
    const out = new Set(this.pending.map((o) => o.ticker));
    for (const l of this.lots) if (l.stop !== null || l.target !== null) out.add(l.ticker);
    return out;
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
    const out = this.exited.get(lot.id) ?? { qty: 0, value: 0 };
    out.qty += qty;
    out.value += qty * price;
    this.exited.set(lot.id, out);
    if (lot.qty <= 0) {
      this.lots.splice(this.lots.indexOf(lot), 1);
      this.exited.delete(lot.id);
      this.closedLots.push({
        ref: lot.ref,
        ticker: lot.ticker,
        side: lot.side,
        entryIdx: lot.entryIdx,
        entryPrice: lot.entryPrice,
        exitIdx: idx,
        exitDate: date,
        exitPrice: out.value / out.qty,
        reason,
      });
    }
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
          events.push({
            ticker: order.ticker,
            side: 'sell',
            qty: 0,
            price: basis.price,
            commission: 0,
            kind: 'exit',
            reason: order.reason,
            ref: order.ref,
            rejected: 'no position left (closed by its bracket first)',
          });
          continue;
        }
        for (const lot of lots) {
          if (left <= 0) break;
          const q = Math.min(left, lot.qty);
          const side = lot.side === 'long' ? 'sell' : 'buy';
          const price = slipped(basis.price, side, this.costs);
          this.closeLot(lot, q, date, idx, price, side, order.reason, order.ref);
          events.push({
            ticker: order.ticker,
            side,
            qty: q,
            price,
            commission: commissionOf(q, price, this.costs),
            kind: 'exit',
            reason: order.reason,
            ref: order.ref,
            rejected: null,
          });
          left -= q;
        }
        continue;
      }
      const price = slipped(basis.price, order.side, this.costs);
      let qty = order.qty;
      if (order.side === 'buy') {
        // A cash account: never spend more than the cash (the risk controller sized at the last close).
        const affordable = Math.floor(this.cash / (price * (1 + this.costs.commissionBps / BPS) + (this.costs.commissionPerShare ?? 0)));
        qty = Math.min(qty, Math.max(0, affordable));
      }
      if (qty <= 0) {
        events.push({
          ticker: order.ticker,
          side: order.side,
          qty: 0,
          price,
          commission: 0,
          kind: 'entry',
          reason: null,
          ref: order.ref,
          rejected: `cash ${this.cash.toFixed(2)} buys no share at ${price.toFixed(4)}`,
        });
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
        ref: order.ref,
      });
      const ev: FillEvent = {
        ticker: order.ticker,
        side: order.side,
        qty,
        price,
        commission,
        kind: 'entry',
        reason: null,
        ref: order.ref,
        rejected: qty < order.qty ? `cut from ${order.qty} to ${qty}: cash` : null,
      };
      this.fills.push({ ...ev, date });
      events.push(ev);
    }
    this.pending.push(...waiting);
    return events;
  }

  /**
   * Checks every lot's bracket against day `idx`'s bar with the fill model (execution/fill-model.ts),
   * as the paper exchange does: from the bar after the lot's fill on (with closes only, stops and
   * targets are checked on closes, and a close that crosses either fills at that close).
   */
  checkBrackets(idx: number, date: string, barOn: (ticker: string) => Bar | null): FillEvent[] {
    const events: FillEvent[] = [];
    for (const lot of [...this.lots]) {
      const bar = barOn(lot.ticker);
      if (!bar) continue;
      // The fill model's rule: a bracket's legs work from the bar after the entry's fill.
      if (lot.entryIdx === idx) continue;
      const hit = bracketHit(lot, bar, this.costs);
      if (!hit) continue;
      const side = lot.side === 'long' ? 'sell' : 'buy';
      const qty = lot.qty;
      this.closeLot(lot, qty, date, idx, hit.price, side, hit.reason, `bracket:${lot.id}`);
      events.push({
        ticker: lot.ticker,
        side,
        qty,
        price: hit.price,
        commission: commissionOf(qty, hit.price, this.costs),
        kind: 'exit',
        reason: hit.reason,
        ref: `bracket:${lot.id}`,
        rejected: null,
      });
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
      openOrders: [
        ...this.pending.map((o) => ({
          ticker: o.ticker,
          side: o.kind === 'entry' ? o.side : this.positionQty(o.ticker) < 0 ? ('buy' as const) : ('sell' as const),
          qty: Math.max(1, o.qty),
          clientOrderId: o.ref,
          submittedAt: o.submittedAt,
        })),
        // A filled entry's bracket legs work at the broker until one fills: an order that reduces the
        // position (what a broker lists, and the paper session's snapshot reads).
        ...this.lots
          .filter((l) => l.stop !== null || l.target !== null)
          .map((l) => ({
            ticker: l.ticker,
            side: l.side === 'long' ? ('sell' as const) : ('buy' as const),
            qty: l.qty,
            clientOrderId: `bracket:${l.id}`,
            submittedAt: input.openedAt(l),
          })),
      ],
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
    // Commission per share of the trade, entry and (when it is a fill) exit.
    const fees = commissionOf(1, entryPrice, costs) + (exitCosts ? commissionOf(1, exitPrice, costs) : 0);
    return { entryDate: barDate(entryBar), exitDate: barDate(exitBar), entryPrice, exitPrice, reason, returnPct: (gross - fees) / entryPrice };
  };
  for (let k = 0; k < bars.length; k++) {
    const bar = bars[k];
    if (!bar) break;
    // The legs work from the bar after the entry's fill (the fill model's rule).
    if (k > 0) {
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
