import { z } from 'zod';
import { IsoDateTime, Ticker } from './common.ts';

/** Point-in-time market facts about one ticker that the risk controller needs (computed outside risk/). */
export const MarketSnapshot = z
  .object({
    ticker: Ticker,
    asOf: IsoDateTime,
    lastPrice: z.number().positive(),
    /** 14-day average true range (close-to-close range when only closes exist). */
    atr: z.number().positive().nullable(),
    /** Average daily dollar volume over 20 days; null when volume is unknown. */
    avgDollarVolume: z.number().min(0).nullable(),
    sector: z.string().nullable(),
    /** Whether the exchange is open at asOf, from the trading calendar. */
    marketOpen: z.boolean(),
  })
  .strict();
export type MarketSnapshot = z.infer<typeof MarketSnapshot>;
