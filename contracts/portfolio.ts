import { z } from 'zod';
import { Finite, IsoDateTime, Side, Ticker, TradingState } from './common.ts';

export const PositionSnapshot = z
  .object({
    ticker: Ticker,
    /** Signed: positive long, negative short. */
    qty: Finite,
    avgPrice: z.number().positive(),
    marketPrice: z.number().positive(),
    sector: z.string().nullable(),
    /** Day the position was opened (for day-trade counting and time exits). */
    openedAt: IsoDateTime.nullable(),
  })
  .strict();
export type PositionSnapshot = z.infer<typeof PositionSnapshot>;

export const OpenOrderSnapshot = z
  .object({
    ticker: Ticker,
    side: Side,
    qty: z.number().positive(),
    clientOrderId: z.string().min(1),
    submittedAt: IsoDateTime,
  })
  .strict();
export type OpenOrderSnapshot = z.infer<typeof OpenOrderSnapshot>;

/** The account as the risk controller sees it. Stale or missing means HALTED. */
export const PortfolioSnapshot = z
  .object({
    asOf: IsoDateTime,
    equity: Finite,
    cash: Finite,
    buyingPower: Finite,
    /** Equity at the previous close, for the daily loss limit. */
    lastEquity: Finite,
    /** High-water mark of equity, for the drawdown limit. */
    peakEquity: Finite,
    positions: z.array(PositionSnapshot),
    openOrders: z.array(OpenOrderSnapshot),
    /** Day trades in the last 5 business days (PDT rule). */
    dayTradesLast5Days: z.number().int().min(0),
    /** Orders submitted today (for the throttle), oldest first. */
    recentOrderTimes: z.array(IsoDateTime),
    tradingState: TradingState,
  })
  .strict();
export type PortfolioSnapshot = z.infer<typeof PortfolioSnapshot>;
