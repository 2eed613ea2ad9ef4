import { createHash } from 'node:crypto';
import { z } from 'zod';
import { OrderIntent, QuorumError, errorMessage, type RiskDecision } from '../contracts/index.ts';
import { appendAudit, type Db, type Queryable } from '../db/index.ts';
import type { Broker } from './broker.ts';
import { recordFills } from './positions.ts';
import { BrokerOrder, TERMINAL_ORDER_STATUSES, type BrokerOrderLeg, type Fill, type SubmitOrderRequest } from './schema.ts';
import { assertCanSubmit, getTradingState } from './trading-state.ts';

/** An intent still waiting for the broker's answer after this long is not submitted again (canceled instead). */
export const DEFAULT_INTENT_MAX_AGE_MS = 15 * 60_000;

/** order_intents.status values. */
export type IntentStatus = 'pending' | 'submitted' | 'unknown' | 'accepted' | 'rejected' | 'filled' | 'canceled';

/** Deterministic client_order_id: a short hash of session, ticker, side and risk decision id. */
export function clientOrderIdFor(sessionId: string, ticker: string, side: string, decisionId: string): string {
  const digest = createHash('sha256').update(`${sessionId}\u0000${ticker}\u0000${side}\u0000${decisionId}`).digest('hex');
  return `q-${digest.slice(0, 30)}`;
}

export interface IntentOptions {
  /** When the intent is made (ISO); defaults to the decision time. */
  now?: string;
  type?: 'market' | 'limit';
  limitPrice?: number | null;
  timeInForce?: 'day' | 'gtc';
}

/**
 * The order a risk decision allows: a bracket when it carries a stop and a target. A DENY (or a
 * zero quantity) makes no order.
 */
export function intentFromDecision(decision: RiskDecision, sessionId: string, options: IntentOptions = {}): OrderIntent {
  if (decision.action === 'DENY' || decision.finalQty <= 0) {
    throw new QuorumError('INPUT_INVALID', `risk decision ${decision.id} is ${decision.action} with finalQty ${decision.finalQty}: no order`, {
      decisionId: decision.id,
    });
  }
  const clientOrderId = clientOrderIdFor(sessionId, decision.ticker, decision.side, decision.id);
  const bracket = decision.stop !== null && decision.target !== null;
  const type = options.type ?? 'market';
  return OrderIntent.parse({
    id: `intent-${clientOrderId.slice(2)}`,
    clientOrderId,
    sessionId,
    riskDecisionId: decision.id,
    ticker: decision.ticker,
    side: decision.side,
    qty: decision.finalQty,
    type,
    limitPrice: type === 'limit' ? (options.limitPrice ?? decision.entryPrice) : null,
    timeInForce: options.timeInForce ?? (bracket ? 'gtc' : 'day'),
    orderClass: bracket ? 'bracket' : 'simple',
    takeProfit: bracket ? decision.target : null,
    stopLoss: bracket ? decision.stop : null,
    createdAt: options.now ?? decision.decidedAt,
  });
}

/**
 * Stores a risk decision, its rule results and its audit event in one transaction (once; the verdict
 * and proposal must be stored). A decision stored without its rules would stay so: a second write is a
 * no-op.
 */
export async function recordRiskDecision(db: Db, decision: RiskDecision): Promise<void> {
  await db.transaction(async (q) => {
    const res = await q.query(
      `INSERT INTO risk_decisions (id, verdict_id, proposal_id, action, requested_qty, final_qty, stop, target, trading_state, payload, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
      [
        decision.id,
        decision.verdictId,
        decision.proposalId,
        decision.action,
        decision.requestedQty,
        decision.finalQty,
        decision.stop,
        decision.target,
        decision.tradingState,
        JSON.stringify(decision),
        decision.decidedAt,
      ],
    );
    if (res.rowCount === 0) return;
    // One statement for every rule (a decision has twenty-odd).
    await q.query(
      `INSERT INTO risk_rule_results (decision_id, rule, passed, detail)
       SELECT $1, t.rule, t.passed, t.detail FROM unnest($2::text[], $3::boolean[], $4::text[]) AS t (rule, passed, detail) ON CONFLICT DO NOTHING`,
      [decision.id, decision.rules.map((r) => r.rule), decision.rules.map((r) => r.passed), decision.rules.map((r) => r.detail)],
    );
    await appendAudit(q, 'risk.decided', 'risk_decision', decision.id, { action: decision.action, finalQty: decision.finalQty });
  });
}

const IntentRow = z.object({ id: z.string(), client_order_id: z.string(), status: z.string(), payload: z.unknown(), created_at: z.coerce.date() });

export interface StoredIntent {
  intent: OrderIntent;
  status: IntentStatus;
  createdAt: string;
}

function toStored(row: unknown): StoredIntent {
  const r = IntentRow.parse(row);
  return { intent: OrderIntent.parse(r.payload), status: r.status as IntentStatus, createdAt: r.created_at.toISOString() };
}

export async function getIntent(q: Queryable, clientOrderId: string): Promise<StoredIntent | null> {
  const res = await q.query('SELECT id, client_order_id, status, payload, created_at FROM order_intents WHERE client_order_id = $1', [clientOrderId]);
  return res.rows[0] ? toStored(res.rows[0]) : null;
}

/** Intents whose broker outcome is not known yet (pending, submitted, unknown). */
export async function unresolvedIntents(q: Queryable): Promise<StoredIntent[]> {
  const res = await q.query(
    `SELECT id, client_order_id, status, payload, created_at FROM order_intents WHERE status IN ('pending', 'submitted', 'unknown') ORDER BY created_at, id`,
  );
  return res.rows.map(toStored);
}

/** Writes the intent (status pending) and its audit event in one transaction; a second write is a no-op. */
export async function storeIntent(db: Db, intent: OrderIntent): Promise<{ stored: boolean; existing: StoredIntent | null }> {
  const valid = OrderIntent.parse(intent);
  return db.transaction(async (tx) => {
    const res = await tx.query(
      `INSERT INTO order_intents (id, client_order_id, session_id, risk_decision_id, ticker, side, qty, order_type, status, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) ON CONFLICT (client_order_id) DO NOTHING`,
      [valid.id, valid.clientOrderId, valid.sessionId, valid.riskDecisionId, valid.ticker, valid.side, valid.qty, valid.type, JSON.stringify(valid)],
    );
    if (res.rowCount === 0) return { stored: false, existing: await getIntent(tx, valid.clientOrderId) };
    await appendAudit(tx, 'intent.stored', 'order_intent', valid.id, {
      clientOrderId: valid.clientOrderId,
      ticker: valid.ticker,
      side: valid.side,
      qty: valid.qty,
    });
    return { stored: true, existing: null };
  });
}

async function setIntentStatus(q: Queryable, intent: OrderIntent, status: IntentStatus, kind: string, payload: Record<string, unknown> = {}): Promise<void> {
  await q.query('UPDATE order_intents SET status = $2, updated_at = now() WHERE client_order_id = $1', [intent.clientOrderId, status]);
  await appendAudit(q, kind, 'order_intent', intent.id, { clientOrderId: intent.clientOrderId, status, ...payload });
}

/** What a rejection's audit event says about the order, so its notification needs no other table. */
function rejectionFacts(intent: OrderIntent): Record<string, unknown> {
  return { ticker: intent.ticker, side: intent.side, qty: intent.qty, sessionId: intent.sessionId };
}

function intentStatusOf(order: BrokerOrder): IntentStatus {
  if (order.status === 'filled') return 'filled';
  if (order.status === 'rejected') return 'rejected';
  if (TERMINAL_ORDER_STATUSES.has(order.status)) return order.filledQty > 0 ? 'filled' : 'canceled';
  return 'accepted';
}

const LocalOrderRow = z.object({ id: z.string(), filled_qty: z.number(), filled_avg_price: z.number().nullable() });

async function upsertOrder(q: Queryable, o: BrokerOrderLeg, extra: { intentId: string | null; broker: string; parentId: string | null }): Promise<Fill[]> {
  const prevRes = await q.query('SELECT id, filled_qty, filled_avg_price FROM orders WHERE id = $1', [o.id]);
  const prev = prevRes.rows[0] ? LocalOrderRow.parse(prevRes.rows[0]) : null;
  await q.query(
    `INSERT INTO orders (id, client_order_id, intent_id, broker, ticker, side, qty, order_type, order_class, parent_id, status, filled_qty, filled_avg_price, submitted_at, updated_at, raw)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now(), $15)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, filled_qty = EXCLUDED.filled_qty, filled_avg_price = EXCLUDED.filled_avg_price,
       intent_id = coalesce(orders.intent_id, EXCLUDED.intent_id), updated_at = now(), raw = EXCLUDED.raw`,
    [
      o.id,
      o.clientOrderId,
      extra.intentId,
      extra.broker,
      o.symbol,
      o.side,
      o.qty,
      o.type,
      o.orderClass,
      extra.parentId,
      o.status,
      o.filledQty,
      o.filledAvgPrice,
      o.submittedAt,
      JSON.stringify(o),
    ],
  );
  const prevQty = prev?.filled_qty ?? 0;
  if (o.filledQty <= prevQty + 1e-9 || o.filledAvgPrice === null) return [];
  // Alpaca reports cumulative filled qty and average price; each increase becomes one fill whose
  // id is (order id, cumulative qty): replaying the same order state never makes a second fill.
  const delta = o.filledQty - prevQty;
  const price = prevQty > 0 && prev?.filled_avg_price != null ? (o.filledAvgPrice * o.filledQty - prev.filled_avg_price * prevQty) / delta : o.filledAvgPrice;
  return [
    {
      id: `${o.id}:${o.filledQty}`,
      orderId: o.id,
      ticker: o.symbol,
      side: o.side,
      qty: delta,
      price: price > 0 ? price : o.filledAvgPrice,
      commission: 0,
      filledAt: o.filledAt ?? o.submittedAt ?? new Date().toISOString(),
    },
  ];
}

/**
 * Stores a broker order (and a bracket's legs), its new fills (deduped by id), the rebuilt
 * positions and the intent's status, in one transaction.
 */
export async function recordBrokerOrder(db: Db, order: BrokerOrder, brokerName: string, intent: OrderIntent | null = null): Promise<IntentStatus> {
  return db.transaction(async (tx) => {
    const owner = intent ?? (await getIntent(tx, order.clientOrderId))?.intent ?? null;
    const fills = await upsertOrder(tx, order, { intentId: owner?.id ?? null, broker: brokerName, parentId: null });
    for (const leg of order.legs) fills.push(...(await upsertOrder(tx, leg, { intentId: null, broker: brokerName, parentId: order.id })));
    if (fills.length > 0) {
      await recordFills(tx, fills);
      for (const f of fills)
        await appendAudit(tx, 'fill.recorded', 'fill', f.id, { orderId: f.orderId, ticker: f.ticker, side: f.side, qty: f.qty, price: f.price });
    }
    const status = intentStatusOf(order);
    if (owner) {
      const current = await getIntent(tx, owner.clientOrderId);
      if (current && current.status !== status) {
        const facts = status === 'rejected' ? rejectionFacts(owner) : {};
        await setIntentStatus(tx, owner, status, `order.${status}`, { ...facts, orderId: order.id, brokerStatus: order.status });
      }
    }
    return status;
  });
}

function toRequest(intent: OrderIntent): SubmitOrderRequest {
  return {
    clientOrderId: intent.clientOrderId,
    symbol: intent.ticker,
    side: intent.side,
    qty: intent.qty,
    type: intent.type,
    limitPrice: intent.limitPrice,
    timeInForce: intent.timeInForce,
    orderClass: intent.orderClass,
    takeProfit: intent.takeProfit,
    stopLoss: intent.stopLoss,
  };
}

/** Fault-injection points (tests only): throwing from one simulates the process dying there. */
export interface SubmitHooks {
  /** After the intent is stored, before the POST. */
  afterIntentStored?(intent: OrderIntent): void | Promise<void>;
  /** After the broker accepted the POST, before its reply is stored. */
  afterPostBeforeRecord?(order: BrokerOrder): void | Promise<void>;
}

export interface SubmitOutcome {
  clientOrderId: string;
  status: IntentStatus;
  orderId: string | null;
  /** True when the broker already had an order with this client_order_id. */
  alreadyExisted: boolean;
  error?: string;
}

/** POSTs once. Duplicate id → look it up; timeout/5xx → UNKNOWN; a refusal → rejected. Never retries. */
async function postOnce(db: Db, broker: Broker, intent: OrderIntent, hooks: SubmitHooks = {}): Promise<SubmitOutcome> {
  const base = { clientOrderId: intent.clientOrderId };
  await setIntentStatus(db, intent, 'submitted', 'order.post', { broker: broker.name });
  let order: BrokerOrder;
  try {
    order = await broker.submitOrder(toRequest(intent));
  } catch (error) {
    if (QuorumError.is(error, 'CONFLICT')) {
      await appendAudit(db, 'order.duplicate', 'order_intent', intent.id, { clientOrderId: intent.clientOrderId });
      const existing = await broker.getOrderByClientId(intent.clientOrderId);
      if (!existing) {
        await setIntentStatus(db, intent, 'unknown', 'order.unknown', { reason: 'duplicate id refused but lookup found nothing' });
        return { ...base, status: 'unknown', orderId: null, alreadyExisted: true };
      }
      const status = await recordBrokerOrder(db, existing, broker.name, intent);
      return { ...base, status, orderId: existing.id, alreadyExisted: true };
    }
    if (QuorumError.is(error, 'BROKER_ERROR')) {
      // The status and its audit event (which notify/ delivers) in one transaction.
      await db.transaction((tx) => setIntentStatus(tx, intent, 'rejected', 'order.rejected', { ...rejectionFacts(intent), error: error.message }));
      return { ...base, status: 'rejected', orderId: null, alreadyExisted: false, error: error.message };
    }
    // BROKER_UNKNOWN (timeout, 5xx) or anything unexpected: the order may exist. Never re-POST here.
    await setIntentStatus(db, intent, 'unknown', 'order.unknown', { error: errorMessage(error) });
    return { ...base, status: 'unknown', orderId: null, alreadyExisted: false, error: errorMessage(error) };
  }
  await hooks.afterPostBeforeRecord?.(order);
  const status = await recordBrokerOrder(db, order, broker.name, intent);
  return { ...base, status, orderId: order.id, alreadyExisted: false };
}

/**
 * The order lifecycle for one intent: refused while HALTED; the intent is stored before any broker
 * call; an intent seen before is resolved (lookup by client_order_id) instead of posted again.
 */
export async function submitIntent(db: Db, broker: Broker, intent: OrderIntent, hooks: SubmitHooks = {}): Promise<SubmitOutcome> {
  await assertCanSubmit(db);
  const { stored, existing } = await storeIntent(db, intent);
  if (!stored && existing) {
    if (existing.status === 'pending' || existing.status === 'submitted' || existing.status === 'unknown') return resolveIntent(db, broker, existing);
    return { clientOrderId: intent.clientOrderId, status: existing.status, orderId: null, alreadyExisted: true };
  }
  await hooks.afterIntentStored?.(intent);
  return postOnce(db, broker, intent, hooks);
}

export interface ResolveOptions {
  /** Wall-clock now in ms (default Date.now()). */
  nowMs?: number;
  maxAgeMs?: number;
}

/**
 * Settles an intent whose outcome is not known (pending after a crash, submitted, unknown after a
 * timeout): look it up by client_order_id first. Found → recorded. Not found → POST once more with
 * the SAME client_order_id (the broker refuses a duplicate, so this can never make a second order),
 * unless the intent is older than maxAgeMs, which cancels it instead.
 */
export async function resolveIntent(db: Db, broker: Broker, stored: StoredIntent, options: ResolveOptions = {}): Promise<SubmitOutcome> {
  const intent = stored.intent;
  const found = await broker.getOrderByClientId(intent.clientOrderId);
  if (found) {
    await appendAudit(db, 'order.lookup_found', 'order_intent', intent.id, { clientOrderId: intent.clientOrderId, orderId: found.id });
    const status = await recordBrokerOrder(db, found, broker.name, intent);
    return { clientOrderId: intent.clientOrderId, status, orderId: found.id, alreadyExisted: true };
  }
  await appendAudit(db, 'order.lookup_miss', 'order_intent', intent.id, { clientOrderId: intent.clientOrderId, previous: stored.status });
  const age = (options.nowMs ?? Date.now()) - Date.parse(stored.createdAt);
  if (age > (options.maxAgeMs ?? DEFAULT_INTENT_MAX_AGE_MS)) {
    await setIntentStatus(db, intent, 'canceled', 'intent.expired', { ageMs: age });
    return { clientOrderId: intent.clientOrderId, status: 'canceled', orderId: null, alreadyExisted: false };
  }
  const state = await getTradingState(db);
  if (state.state === 'HALTED') {
    // Not found and trading is halted: leave it unresolved; a later run after resume settles it.
    await appendAudit(db, 'intent.held_halted', 'order_intent', intent.id, { clientOrderId: intent.clientOrderId, reason: state.reason });
    return { clientOrderId: intent.clientOrderId, status: stored.status, orderId: null, alreadyExisted: false };
  }
  return postOnce(db, broker, intent);
}

/** An order's stored broker reply, the same whatever key order the database keeps (jsonb sorts keys). */
function sameReply(stored: unknown, order: BrokerOrder): boolean {
  const parsed = BrokerOrder.safeParse(stored);
  return parsed.success && JSON.stringify(parsed.data) === JSON.stringify(BrokerOrder.parse(order));
}

const OpenOrderRow = z.object({ id: z.string(), raw: z.unknown() });

/**
 * Refreshes every locally open order from the broker (status, legs, fills); returns how many the broker
 * reported. An order whose reply equals the one stored (a working order between bars, a bracket whose
 * legs wait) is not written again: the exit monitor runs this every few minutes over every open order.
 */
export async function syncOpenOrders(db: Db, broker: Broker): Promise<number> {
  const res = await db.query(
    `SELECT id, raw FROM orders WHERE parent_id IS NULL AND NOT (status = ANY($1))
                                 OR id IN (SELECT parent_id FROM orders WHERE parent_id IS NOT NULL AND NOT (status = ANY($1)))`,
    [[...TERMINAL_ORDER_STATUSES]],
  );
  let n = 0;
  for (const row of res.rows) {
    const local = OpenOrderRow.parse(row);
    const order = await broker.getOrder(local.id);
    if (!order) continue;
    n++;
    if (sameReply(local.raw, order)) continue;
    await recordBrokerOrder(db, order, broker.name);
  }
  return n;
}
