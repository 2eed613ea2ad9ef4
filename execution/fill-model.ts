/**
 * The one fill model of Quorum: the pure rules by which a working order fills on a daily bar. The
 * local paper exchange (`paper-exchange/engine.ts`) and the backtest's simulated broker
 * (`evals/backtest/broker.ts`) both fill through these functions, so paper trading and a backtest over
 * the same bars fill alike (ADR 0021). No I/O, no clock: a bar and an order in, a price out.
 *
 * The rules:
 *  - A close-only bar (no open) is a bar whose open, high and low are all its close: every order it
 *    triggers fills at the close. A bar with an open but no high or low spans its open and close.
 *  - A market order fills at the bar's open (the close of a close-only bar).
 *  - A stop fills at its price when the bar reaches it, or at the open when the bar gaps through it.
 *    Once triggered it is a market order: slippage applies.
 *  - A limit fills at its price when the bar reaches it, or at the open when the bar opens past it
 *    (a better price). No slippage: a limit never fills worse than its price.
 *  - Slippage is against the trade: a buy pays price x (1 + bps), a sell gets price x (1 - bps).
 *  - Commission is notional x commissionBps plus shares x commissionPerShare (the backtest charges the
 *    first, the paper exchange the second; either may be zero).
 *  - A bracket's legs: the stop is checked before the target (a bar that reaches both counts as the
 *    stop: the worse case). The legs work from the bar after the entry's fill, never on the entry's own
 *    bar: a daily bar does not say whether its low came before the fill.
 */

/** Basis points in one. */
export const BPS = 10_000;

export type FillSide = 'buy' | 'sell';

/** The prices of one bar the fill rules read (close-only data has no open, high or low). */
export interface FillBar {
  open: number | null;
  high: number | null;
  low: number | null;
  close: number;
}

/** A working order as the fill rules see it. */
export interface FillOrder {
  type: 'market' | 'limit' | 'stop';
  side: FillSide;
  limitPrice: number | null;
  stopPrice: number | null;
}

/** Slippage and commission. Commission is notional x commissionBps + shares x commissionPerShare. */
export interface FillCosts {
  slippageBps: number;
  commissionBps?: number;
  commissionPerShare?: number;
}

/** The open, high and low a bar stands for: the close for all three on a close-only bar. */
export function barRange(bar: FillBar): { open: number; high: number; low: number; close: number } {
  const open = bar.open ?? bar.close;
  return { open, high: bar.high ?? Math.max(open, bar.close), low: bar.low ?? Math.min(open, bar.close), close: bar.close };
}

/** True when the bar has no open (close-only data). */
export function isCloseOnly(bar: FillBar): boolean {
  return bar.open === null;
}

/** Where a market order fills on a bar: its open, or its close when the bar has no open. */
export function marketFillBasis(bar: FillBar): { price: number; at: 'open' | 'close' } {
  return bar.open !== null ? { price: bar.open, at: 'open' } : { price: bar.close, at: 'close' };
}

/** A price after slippage against the trade. */
export function slipped(price: number, side: FillSide, slippageBps: number): number {
  const f = slippageBps / BPS;
  return side === 'buy' ? price * (1 + f) : price * (1 - f);
}

/** The commission of a fill of `qty` shares at `price`. */
export function commissionOf(qty: number, price: number, costs: Pick<FillCosts, 'commissionBps' | 'commissionPerShare'>): number {
  const shares = Math.abs(qty);
  return (shares * price * (costs.commissionBps ?? 0)) / BPS + shares * (costs.commissionPerShare ?? 0);
}

/**
 * The price at which a working order is reached on a bar, before slippage, or null when the bar does
 * not reach it. A gap through a stop or past a limit fills at the open.
 */
export function triggerPrice(order: FillOrder, bar: FillBar): number | null {
  const { open, high, low } = barRange(bar);
  if (order.type === 'market') return open;
  if (order.type === 'limit' && order.limitPrice !== null) {
    const limit = order.limitPrice;
    if (order.side === 'buy') return open <= limit ? open : low <= limit ? limit : null;
    return open >= limit ? open : high >= limit ? limit : null;
  }
  if (order.type === 'stop' && order.stopPrice !== null) {
    const stop = order.stopPrice;
    if (order.side === 'sell') return open <= stop ? open : low <= stop ? stop : null;
    return open >= stop ? open : high >= stop ? stop : null;
  }
  return null;
}

/** Whether a triggered order of this type pays slippage: market and stop orders do, limits do not. */
export function paysSlippage(type: FillOrder['type']): boolean {
  return type !== 'limit';
}

/** The fill price of a working order on a bar (trigger plus slippage where it applies), or null. */
export function fillPrice(order: FillOrder, bar: FillBar, costs: Pick<FillCosts, 'slippageBps'>): number | null {
  const base = triggerPrice(order, bar);
  if (base === null) return null;
  return paysSlippage(order.type) ? slipped(base, order.side, costs.slippageBps) : base;
}

/** A full fill of a working order on a bar: price, commission and notional, or null when not reached. */
export function fillOn(order: FillOrder & { qty: number }, bar: FillBar, costs: FillCosts): { price: number; commission: number; notional: number } | null {
  const price = fillPrice(order, bar, costs);
  if (price === null) return null;
  return { price, commission: commissionOf(order.qty, price, costs), notional: Math.abs(order.qty) * price };
}

/** The bracket of one position: the side held and its two legs. */
export interface FillBracket {
  side: 'long' | 'short';
  stop: number | null;
  target: number | null;
}

/**
 * Which leg of a bracket fills on a bar, and at what price (slippage included for the stop), or null.
 * The stop is checked first: a bar that reaches both legs counts as the stop.
 */
export function bracketExit(bracket: FillBracket, bar: FillBar, costs: Pick<FillCosts, 'slippageBps'>): { reason: 'stop' | 'target'; price: number } | null {
  const exit: FillSide = bracket.side === 'long' ? 'sell' : 'buy';
  if (bracket.stop !== null) {
    const price = fillPrice({ type: 'stop', side: exit, stopPrice: bracket.stop, limitPrice: null }, bar, costs);
    if (price !== null) return { reason: 'stop', price };
  }
  if (bracket.target !== null) {
    const price = fillPrice({ type: 'limit', side: exit, limitPrice: bracket.target, stopPrice: null }, bar, costs);
    if (price !== null) return { reason: 'target', price };
  }
  return null;
}
