import { z } from 'zod';
import { Finite, IsoDateTime, Side, Ticker } from '../contracts/index.ts';

/**
 * execution/'s own schemas (strict), and the lenient schemas of Alpaca's replies (snake_case,
 * numbers as strings, unknown fields passed through) that are mapped onto them.
 */

// ---- ours ---------------------------------------------------------------------------------------

export const OrderStatus = z.string().min(1);

const BrokerOrderFields = {
  id: z.string().min(1),
  clientOrderId: z.string().min(1),
  symbol: Ticker,
  side: Side,
  qty: z.number().positive(),
  filledQty: z.number().min(0),
  filledAvgPrice: z.number().positive().nullable(),
  type: z.string().min(1),
  orderClass: z.enum(['simple', 'bracket', 'oco', 'oto', 'mleg']),
  status: OrderStatus,
  limitPrice: z.number().positive().nullable(),
  stopPrice: z.number().positive().nullable(),
  submittedAt: IsoDateTime.nullable(),
  filledAt: IsoDateTime.nullable(),
};

/** One leg of a bracket, as the broker reports it. */
export const BrokerOrderLeg = z.object(BrokerOrderFields).strict();
export type BrokerOrderLeg = z.infer<typeof BrokerOrderLeg>;

/** An order as the broker reports it, with a bracket's legs. */
export const BrokerOrder = z.object({ ...BrokerOrderFields, legs: z.array(BrokerOrderLeg) }).strict();
export type BrokerOrder = z.infer<typeof BrokerOrder>;

/** Order statuses after which nothing more happens. */
export const TERMINAL_ORDER_STATUSES: ReadonlySet<string> = new Set(['filled', 'canceled', 'expired', 'rejected', 'replaced', 'done_for_day']);

export const BrokerAccount = z
  .object({
    id: z.string().min(1),
    status: z.string(),
    equity: Finite,
    cash: Finite,
    buyingPower: Finite,
    lastEquity: Finite,
    tradingBlocked: z.boolean(),
    /** When we read it (wall clock): the risk controller fails closed on stale account data. */
    readAt: IsoDateTime,
  })
  .strict();
export type BrokerAccount = z.infer<typeof BrokerAccount>;

export const BrokerPosition = z
  .object({
    symbol: Ticker,
    /** Signed: positive long, negative short. */
    qty: Finite,
    avgEntryPrice: z.number().positive(),
    currentPrice: z.number().positive(),
    marketValue: Finite,
  })
  .strict();
export type BrokerPosition = z.infer<typeof BrokerPosition>;

export const BrokerClock = z.object({ timestamp: IsoDateTime, isOpen: z.boolean(), nextOpen: IsoDateTime, nextClose: IsoDateTime }).strict();
export type BrokerClock = z.infer<typeof BrokerClock>;

/** What we ask a broker to do; built from a stored OrderIntent. */
export const SubmitOrderRequest = z
  .object({
    clientOrderId: z.string().min(1).max(128),
    symbol: Ticker,
    side: Side,
    qty: z.number().int().positive(),
    type: z.enum(['market', 'limit']),
    limitPrice: z.number().positive().nullable(),
    timeInForce: z.enum(['day', 'gtc']),
    orderClass: z.enum(['simple', 'bracket']),
    takeProfit: z.number().positive().nullable(),
    stopLoss: z.number().positive().nullable(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.type === 'limit' && r.limitPrice === null) ctx.addIssue({ code: 'custom', path: ['limitPrice'], message: 'required for a limit order' });
    if (r.orderClass === 'bracket' && (r.takeProfit === null || r.stopLoss === null)) {
      ctx.addIssue({ code: 'custom', path: [r.takeProfit === null ? 'takeProfit' : 'stopLoss'], message: 'required for a bracket order' });
    }
  });
export type SubmitOrderRequest = z.infer<typeof SubmitOrderRequest>;

/** A fill as execution stores it (fills.id is the dedupe key). */
export const Fill = z
  .object({
    id: z.string().min(1),
    orderId: z.string().min(1),
    ticker: Ticker,
    side: Side,
    qty: z.number().positive(),
    price: z.number().positive(),
    commission: z.number().min(0),
    filledAt: IsoDateTime,
  })
  .strict();
export type Fill = z.infer<typeof Fill>;

/** A position derived from fills. */
export const DerivedPosition = z.object({ ticker: Ticker, qty: Finite, avgPrice: z.number().positive(), openedAt: IsoDateTime }).strict();
export type DerivedPosition = z.infer<typeof DerivedPosition>;

// ---- Alpaca's wire format (lenient) -------------------------------------------------------------

const Num = z
  .union([z.string(), z.number()], { error: 'expected a number or numeric string' })
  .transform((v) => Number(v))
  .refine(Number.isFinite, 'expected a numeric value');
const Time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected a timestamp');

const AlpacaOrderFields = {
  id: z.string().min(1),
  client_order_id: z.string().min(1),
  symbol: z.string().min(1),
  side: z.enum(['buy', 'sell']),
  qty: Num.nullish(),
  notional: Num.nullish(),
  filled_qty: Num.nullish(),
  filled_avg_price: Num.nullish(),
  type: z.string().nullish(),
  order_type: z.string().nullish(),
  order_class: z.string().nullish(),
  status: z.string().min(1),
  limit_price: Num.nullish(),
  stop_price: Num.nullish(),
  submitted_at: Time.nullish(),
  filled_at: Time.nullish(),
};
export const AlpacaOrderLegWire = z.object(AlpacaOrderFields).passthrough();
export const AlpacaOrderWire = z.object({ ...AlpacaOrderFields, legs: z.array(AlpacaOrderLegWire).nullish() }).passthrough();
export type AlpacaOrderWire = z.infer<typeof AlpacaOrderWire>;

export const AlpacaAccountWire = z
  .object({
    id: z.string().min(1),
    status: z.string(),
    equity: Num,
    cash: Num,
    buying_power: Num,
    last_equity: Num,
    trading_blocked: z.boolean().nullish(),
    account_blocked: z.boolean().nullish(),
  })
  .passthrough();

export const AlpacaPositionWire = z
  .object({
    symbol: z.string().min(1),
    qty: Num,
    side: z.string().nullish(),
    avg_entry_price: Num,
    current_price: Num.nullish(),
    market_value: Num.nullish(),
  })
  .passthrough();

export const AlpacaClockWire = z.object({ timestamp: Time, is_open: z.boolean(), next_open: Time, next_close: Time }).passthrough();

const toIso = (s: string | null | undefined): string | null => (s ? new Date(s).toISOString() : null);
const pos = (n: number | null | undefined): number | null => (n != null && n > 0 ? n : null);

function orderClassOf(raw: string | null | undefined): BrokerOrder['orderClass'] {
  if (raw === 'bracket' || raw === 'oco' || raw === 'oto' || raw === 'mleg') return raw;
  return 'simple';
}

function mapLeg(o: z.infer<typeof AlpacaOrderLegWire>): BrokerOrderLeg {
  return {
    id: o.id,
    clientOrderId: o.client_order_id,
    symbol: o.symbol,
    side: o.side,
    qty: o.qty ?? 0,
    filledQty: o.filled_qty ?? 0,
    filledAvgPrice: pos(o.filled_avg_price),
    type: o.type ?? o.order_type ?? 'market',
    orderClass: orderClassOf(o.order_class),
    status: o.status,
    limitPrice: pos(o.limit_price),
    stopPrice: pos(o.stop_price),
    submittedAt: toIso(o.submitted_at),
    filledAt: toIso(o.filled_at),
  };
}

/** Maps Alpaca's order onto ours (validated again by our strict schema: a bad value names its field). */
export function mapAlpacaOrder(o: AlpacaOrderWire): BrokerOrder {
  return BrokerOrder.parse({ ...mapLeg(o), legs: (o.legs ?? []).map(mapLeg) });
}

export function mapAlpacaAccount(a: z.infer<typeof AlpacaAccountWire>, readAt: string): BrokerAccount {
  return {
    id: a.id,
    status: a.status,
    equity: a.equity,
    cash: a.cash,
    buyingPower: a.buying_power,
    lastEquity: a.last_equity,
    tradingBlocked: Boolean(a.trading_blocked) || Boolean(a.account_blocked),
    readAt,
  };
}

export function mapAlpacaPosition(p: z.infer<typeof AlpacaPositionWire>): BrokerPosition {
  // Alpaca reports a short's qty as negative already; trust `side` when it is not.
  const qty = p.side === 'short' && p.qty > 0 ? -p.qty : p.qty;
  return {
    symbol: p.symbol,
    qty,
    avgEntryPrice: p.avg_entry_price,
    currentPrice: p.current_price ?? p.avg_entry_price,
    marketValue: p.market_value ?? qty * (p.current_price ?? p.avg_entry_price),
  };
}

export function mapAlpacaClock(c: z.infer<typeof AlpacaClockWire>): BrokerClock {
  return {
    timestamp: new Date(c.timestamp).toISOString(),
    isOpen: c.is_open,
    nextOpen: new Date(c.next_open).toISOString(),
    nextClose: new Date(c.next_close).toISOString(),
  };
}
