import { z } from 'zod';
import { IsoDateTime, Side, Ticker } from './common.ts';

/** An order we mean to send, stored before any broker call; its client_order_id is deterministic. */
export const OrderIntent = z
  .object({
    id: z.string().min(1),
    /** Hash of session, ticker, side and risk decision id: the same decision can never make two orders. */
    clientOrderId: z.string().min(1).max(48),
    sessionId: z.string().min(1),
    riskDecisionId: z.string().min(1),
    ticker: Ticker,
    side: Side,
    qty: z.number().int().positive(),
    type: z.enum(['market', 'limit']),
    limitPrice: z.number().positive().nullable(),
    timeInForce: z.enum(['day', 'gtc']),
    orderClass: z.enum(['simple', 'bracket']),
    takeProfit: z.number().positive().nullable(),
    stopLoss: z.number().positive().nullable(),
    createdAt: IsoDateTime,
  })
  .strict();
export type OrderIntent = z.infer<typeof OrderIntent>;
