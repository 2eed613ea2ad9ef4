import { z } from 'zod';
import { Side, TradingState } from '../contracts/index.ts';
import { JsonColumn, NullableTimestampColumn, TimestampColumn, queryRow, queryRows, type Queryable } from '../db/index.ts';
import type { SubmitOutcome } from './orders.ts';
import type { TradingStateInfo } from './trading-state.ts';

/**
 * Read models of execution/'s tables (risk decisions and their rule results, intents, orders, fills,
 * positions, the trading state, equity): each row has a zod schema, which the API also publishes.
 * Columns keep their snake_case names: these are the stored rows, not contracts.
 */

const Qty = z.number();
const Price = z.number();

export const RiskDecisionSummary = z.object({
  id: z.string(),
  verdict_id: z.string(),
  proposal_id: z.string(),
  action: z.enum(['ALLOW', 'RESIZE', 'DENY']),
  requested_qty: z.number().int(),
  final_qty: z.number().int(),
  stop: Price.nullable(),
  target: Price.nullable(),
  trading_state: z.string(),
});
export type RiskDecisionSummary = z.infer<typeof RiskDecisionSummary>;

export const RiskDecisionRow = RiskDecisionSummary.extend({ payload: JsonColumn, created_at: TimestampColumn });
export type RiskDecisionRow = z.infer<typeof RiskDecisionRow>;

export const RuleResultRow = z.object({ rule: z.string(), passed: z.boolean(), detail: z.string() });
export type RuleResultRow = z.infer<typeof RuleResultRow>;

export const IntentRow = z.object({
  id: z.string(),
  client_order_id: z.string(),
  session_id: z.string(),
  risk_decision_id: z.string().nullable(),
  ticker: z.string(),
  side: Side,
  qty: Qty,
  order_type: z.string(),
  status: z.string(),
  payload: JsonColumn,
  created_at: TimestampColumn,
  updated_at: TimestampColumn,
});
export type IntentRow = z.infer<typeof IntentRow>;

export const OrderSummary = z.object({
  id: z.string(),
  client_order_id: z.string(),
  ticker: z.string(),
  side: z.string(),
  qty: Qty,
  status: z.string(),
  filled_qty: Qty,
  filled_avg_price: Price.nullable(),
});
export type OrderSummary = z.infer<typeof OrderSummary>;

export const OrderRow = OrderSummary.extend({
  intent_id: z.string().nullable(),
  broker: z.string(),
  order_type: z.string(),
  order_class: z.string(),
  parent_id: z.string().nullable(),
  submitted_at: NullableTimestampColumn,
  updated_at: TimestampColumn,
  raw: JsonColumn,
});
export type OrderRow = z.infer<typeof OrderRow>;

export const FillRow = z.object({
  id: z.string(),
  order_id: z.string(),
  ticker: z.string(),
  side: Side,
  qty: Qty,
  price: Price,
  commission: z.number(),
  filled_at: TimestampColumn,
  created_at: TimestampColumn,
});
export type FillRow = z.infer<typeof FillRow>;

export const PositionRow = z.object({ ticker: z.string(), qty: Qty, avg_price: Price, opened_at: NullableTimestampColumn, updated_at: TimestampColumn });
export const TradingStateRow = z.object({ state: TradingState, reason: z.string(), updated_at: TimestampColumn });
export const EquityRow = z.object({ ts: TimestampColumn, equity: z.number(), cash: z.number(), source: z.string() });

/** Positions, the trading state and the latest equity reading. */
export const PortfolioView = z.object({ positions: z.array(PositionRow), tradingState: TradingStateRow.nullable(), equity: EquityRow.nullable() });
export type PortfolioView = z.infer<typeof PortfolioView>;

/** The kill switch as `setTradingState`/`getTradingState` return it. */
export const TradingStateView = z.object({ state: TradingState, reason: z.string(), updatedAt: z.string() }).strict() satisfies z.ZodType<TradingStateInfo>;

/** What submitting an intent came to (`SubmitOutcome`). */
export const SubmitOutcomeView = z
  .object({
    clientOrderId: z.string(),
    status: z.enum(['pending', 'submitted', 'unknown', 'accepted', 'rejected', 'filled', 'canceled']),
    orderId: z.string().nullable(),
    alreadyExisted: z.boolean(),
    error: z.string().optional(),
  })
  .strict() satisfies z.ZodType<SubmitOutcome>;

const RISK_DECISION_SUMMARY = 'r.id, r.verdict_id, r.proposal_id, r.action, r.requested_qty, r.final_qty, r.stop, r.target, r.trading_state';

/** An order by its broker id or its client_order_id. */
export function readOrder(q: Queryable, id: string): Promise<OrderRow | null> {
  return queryRow(q, OrderRow, 'SELECT * FROM orders WHERE id = $1 OR client_order_id = $1', [id]);
}

export function readIntent(q: Queryable, clientOrderId: string): Promise<IntentRow | null> {
  return queryRow(q, IntentRow, 'SELECT * FROM order_intents WHERE client_order_id = $1', [clientOrderId]);
}

export function readRiskDecision(q: Queryable, id: string): Promise<RiskDecisionRow | null> {
  return queryRow(q, RiskDecisionRow, `SELECT ${RISK_DECISION_SUMMARY}, r.payload, r.created_at FROM risk_decisions r WHERE r.id = $1`, [id]);
}

export function readRuleResults(q: Queryable, decisionId: string): Promise<RuleResultRow[]> {
  return queryRows(q, RuleResultRow, 'SELECT rule, passed, detail FROM risk_rule_results WHERE decision_id = $1 ORDER BY rule', [decisionId]);
}

export function readFills(q: Queryable, orderId: string): Promise<FillRow[]> {
  return queryRows(q, FillRow, 'SELECT * FROM fills WHERE order_id = $1 ORDER BY filled_at', [orderId]);
}

/** The risk decisions on a session's proposals. */
export function readSessionRiskDecisions(q: Queryable, sessionId: string): Promise<RiskDecisionSummary[]> {
  return queryRows(
    q,
    RiskDecisionSummary,
    `SELECT ${RISK_DECISION_SUMMARY} FROM risk_decisions r JOIN proposals p ON p.id = r.proposal_id WHERE p.session_id = $1`,
    [sessionId],
  );
}

/** The orders of a session's intents. */
export function readSessionOrders(q: Queryable, sessionId: string): Promise<OrderSummary[]> {
  return queryRows(
    q,
    OrderSummary,
    `SELECT o.id, o.client_order_id, o.ticker, o.side, o.qty, o.status, o.filled_qty, o.filled_avg_price
       FROM orders o JOIN order_intents i ON i.client_order_id = o.client_order_id WHERE i.session_id = $1`,
    [sessionId],
  );
}

/** Positions, the trading state and the latest equity reading. */
export async function readPortfolio(q: Queryable): Promise<PortfolioView> {
  const [positions, tradingState, equity] = await Promise.all([
    queryRows(q, PositionRow, 'SELECT ticker, qty, avg_price, opened_at, updated_at FROM positions WHERE qty <> 0 ORDER BY ticker'),
    queryRow(q, TradingStateRow, 'SELECT state, reason, updated_at FROM trading_state WHERE id = 1'),
    queryRow(q, EquityRow, 'SELECT ts, equity, cash, source FROM equity_history ORDER BY ts DESC LIMIT 1'),
  ]);
  return { positions, tradingState, equity };
}

/** An intent with what the broker made of it (`quorum orders`). */
export const IntentListRow = z.object({
  client_order_id: z.string(),
  ticker: z.string(),
  side: z.string(),
  qty: Qty,
  intent_status: z.string(),
  order_id: z.string().nullable(),
  order_status: z.string().nullable(),
  filled_qty: Qty.nullable(),
  filled_avg_price: Price.nullable(),
  created_at: TimestampColumn,
});
export type IntentListRow = z.infer<typeof IntentListRow>;

/** A bracket leg (stop or take-profit) of a listed order. */
export const LegListRow = z.object({
  parent_id: z.string(),
  id: z.string(),
  order_type: z.string(),
  side: z.string(),
  qty: Qty,
  status: z.string(),
  filled_qty: Qty,
  filled_avg_price: Price.nullable(),
  updated_at: TimestampColumn,
});
export type LegListRow = z.infer<typeof LegListRow>;

/**
 * Intents newest first (optionally in one status), each with its broker order and that order's bracket
 * legs, so a position closed by a stop or a target shows the leg that closed it.
 */
export async function listIntents(q: Queryable, options: { status?: string; limit: number }): Promise<Array<IntentListRow & { legs: LegListRow[] }>> {
  const intents = await queryRows(
    q,
    IntentListRow,
    `SELECT i.client_order_id, i.ticker, i.side, i.qty, i.status AS intent_status, o.id AS order_id, o.status AS order_status, o.filled_qty, o.filled_avg_price, i.created_at
       FROM order_intents i LEFT JOIN orders o ON o.client_order_id = i.client_order_id
      WHERE ($1::text IS NULL OR i.status = $1) ORDER BY i.created_at DESC, i.id LIMIT $2`,
    [options.status ?? null, options.limit],
  );
  const parents = intents.flatMap((i) => (i.order_id ? [i.order_id] : []));
  const legs = parents.length
    ? await queryRows(
        q,
        LegListRow,
        'SELECT parent_id, id, order_type, side, qty, status, filled_qty, filled_avg_price, updated_at FROM orders WHERE parent_id = ANY($1::text[]) ORDER BY order_type, id',
        [parents],
      )
    : [];
  return intents.map((i) => ({ ...i, legs: legs.filter((l) => l.parent_id === i.order_id) }));
}
