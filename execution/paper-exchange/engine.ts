import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Settings } from '../../config/index.ts';
import type { Db, Queryable } from '../../db/index.ts';
import { barsAsOf, lastBar, type Bar } from '../../market/index.ts';
import { commissionOf, fillPrice, slipped, triggerPrice as triggerOf, type FillOrder } from '../fill-model.ts';
import { nyDate, nyInstant, weekdaysBetween } from './market-time.ts';

/** The paper exchange's settings (settings.execution.paperExchange). */
export type PaperExchangeSettings = Settings['execution']['paperExchange'];

/** An error the HTTP layer answers with Alpaca's `{ code, message }` envelope. */
export class ExchangeError extends Error {
  readonly status: number;
  readonly code: number;
  constructor(status: number, code: number, message: string) {
    super(message);
    this.name = 'ExchangeError';
    this.status = status;
    this.code = code;
  }
}

/** Alpaca's error codes that the exchange uses. */
export const ALPACA_ERROR = {
  INVALID: 40010000,
  DUPLICATE_CLIENT_ORDER_ID: 40010001,
  INSUFFICIENT_BUYING_POWER: 40310000,
  INSUFFICIENT_QTY: 40310001,
  NOT_FOUND: 40410000,
  NOT_CANCELABLE: 42210000,
} as const;

const Amount = z
  .union([z.string(), z.number()])
  .transform((v) => Number(v))
  .refine(Number.isFinite, 'expected a number');
const PositiveAmount = Amount.refine((n) => n > 0, 'must be positive');

/** What POST /v2/orders accepts: Alpaca's request body, leniently (unknown fields are ignored). */
export const OrderRequestBody = z
  .object({
    symbol: z.string().regex(/^[A-Z][A-Z0-9.-]{0,9}$/, 'expected an upper-case symbol'),
    qty: PositiveAmount,
    side: z.enum(['buy', 'sell']),
    type: z.enum(['market', 'limit', 'stop']),
    time_in_force: z.enum(['day', 'gtc', 'opg', 'cls', 'ioc', 'fok']).default('day'),
    limit_price: PositiveAmount.nullish(),
    stop_price: PositiveAmount.nullish(),
    client_order_id: z.string().min(1).max(128).nullish(),
    order_class: z.enum(['simple', 'bracket', '']).nullish(),
    take_profit: z.object({ limit_price: PositiveAmount }).passthrough().nullish(),
    stop_loss: z.object({ stop_price: PositiveAmount, limit_price: PositiveAmount.nullish() }).passthrough().nullish(),
  })
  .passthrough();
export type OrderRequestBody = z.infer<typeof OrderRequestBody>;

const OPEN_STATUSES = ['new', 'accepted', 'held', 'partially_filled', 'pending_new'] as const;
const TERMINAL = new Set(['filled', 'canceled', 'rejected', 'expired', 'replaced']);

const OrderRow = z.object({
  id: z.string(),
  client_order_id: z.string(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  qty: z.number(),
  order_type: z.enum(['market', 'limit', 'stop']),
  time_in_force: z.string(),
  limit_price: z.number().nullable(),
  stop_price: z.number().nullable(),
  order_class: z.enum(['simple', 'bracket']),
  parent_id: z.string().nullable(),
  leg_role: z.enum(['take_profit', 'stop_loss']).nullable(),
  status: z.string(),
  filled_qty: z.number(),
  filled_avg_price: z.number().nullable(),
  submitted_at: z.coerce.date(),
  filled_at: z.coerce.date().nullable(),
  canceled_at: z.coerce.date().nullable(),
  updated_at: z.coerce.date(),
});
/** One stored paper order (a bracket's legs are orders with a parent_id). */
export type PaperOrder = z.infer<typeof OrderRow>;

const PositionRow = z.object({
  symbol: z.string(),
  qty: z.number(),
  avg_entry_price: z.number(),
  opened_at: z.coerce.date(),
});
export type PaperPosition = z.infer<typeof PositionRow>;

const AccountRow = z.object({
  account_id: z.string(),
  cash: z.number(),
  last_equity: z.number(),
  sim_now: z.coerce.date(),
  created_at: z.coerce.date(),
});

export interface AccountState {
  id: string;
  cash: number;
  equity: number;
  lastEquity: number;
  longMarketValue: number;
  shortMarketValue: number;
  buyingPower: number;
  now: string;
  createdAt: string;
}

export interface PositionState extends PaperPosition {
  currentPrice: number;
  lastdayPrice: number;
}

const ORDER_COLUMNS =
  'id, client_order_id, symbol, side, qty, order_type, time_in_force, limit_price, stop_price, order_class, parent_id, leg_role, status, filled_qty, filled_avg_price, submitted_at, filled_at, canceled_at, updated_at';

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

/**
 * The matching engine and book of the local paper exchange. Every state change runs in one
 * transaction that first locks the account row, so concurrent requests are serialised on both
 * PGlite and PostgreSQL. Its clock is explicit: `setNow` / `advanceBars` step through stored bars
 * and fill what those bars trigger.
 */
export class PaperExchange {
  readonly db: Db;
  readonly settings: PaperExchangeSettings;

  constructor(db: Db, settings: PaperExchangeSettings) {
    this.db = db;
    this.settings = settings;
  }

  /** Creates the account on first use: starting cash, clock at `initialNow` or the last stored bar. */
  async init(initialNow?: string): Promise<void> {
    const existing = await this.db.query('SELECT 1 FROM paper_account WHERE id = 1');
    if (existing.rows.length > 0) return;
    let now = initialNow;
    if (!now) {
      const res = await this.db.query('SELECT max(ts) AS ts FROM bars');
      const ts = z.object({ ts: z.coerce.date().nullable() }).parse(res.rows[0]).ts;
      now = (ts ?? new Date()).toISOString();
    }
    await this.db.query(`INSERT INTO paper_account (id, account_id, cash, last_equity, sim_now) VALUES (1, $1, $2, $2, $3) ON CONFLICT (id) DO NOTHING`, [
      randomUUID(),
      this.settings.startingCash,
      now,
    ]);
  }

  private async lockedAccount(q: Queryable): Promise<z.infer<typeof AccountRow>> {
    const res = await q.query('SELECT account_id, cash, last_equity, sim_now, created_at FROM paper_account WHERE id = 1 FOR UPDATE');
    if (res.rows.length === 0) throw new ExchangeError(500, 50000000, 'paper exchange not initialised');
    return AccountRow.parse(res.rows[0]);
  }

  /** The exchange's simulated "now". */
  async now(): Promise<string> {
    const res = await this.db.query('SELECT sim_now FROM paper_account WHERE id = 1');
    if (res.rows.length === 0) throw new ExchangeError(500, 50000000, 'paper exchange not initialised');
    return z.object({ sim_now: z.coerce.date() }).parse(res.rows[0]).sim_now.toISOString();
  }

  // ---- orders -------------------------------------------------------------------------------

  /** Places an order (with legs for a bracket). A reused client_order_id is a 422, as at Alpaca. */
  async submit(body: OrderRequestBody): Promise<PaperOrder> {
    const clientOrderId = body.client_order_id ?? randomUUID();
    const orderClass = body.order_class === 'bracket' ? 'bracket' : 'simple';
    if (body.type === 'limit' && body.limit_price == null) throw new ExchangeError(422, ALPACA_ERROR.INVALID, 'limit_price is required for limit orders');
    if (body.type === 'stop' && body.stop_price == null) throw new ExchangeError(422, ALPACA_ERROR.INVALID, 'stop_price is required for stop orders');
    if (orderClass === 'bracket') {
      if (!body.take_profit || !body.stop_loss) throw new ExchangeError(422, ALPACA_ERROR.INVALID, 'bracket orders require take_profit and stop_loss');
      if (body.type === 'stop') throw new ExchangeError(422, ALPACA_ERROR.INVALID, 'bracket orders must be market or limit');
      const tp = body.take_profit.limit_price;
      const sl = body.stop_loss.stop_price;
      if (body.side === 'buy' ? tp <= sl : tp >= sl) {
        throw new ExchangeError(
          422,
          ALPACA_ERROR.INVALID,
          `take_profit.limit_price ${tp} must be ${body.side === 'buy' ? 'above' : 'below'} stop_loss.stop_price ${sl}`,
        );
      }
    }
    try {
      return await this.db.transaction(async (tx) => {
        const account = await this.lockedAccount(tx);
        const now = account.sim_now.toISOString();
        const dup = await tx.query('SELECT 1 FROM paper_orders WHERE client_order_id = $1', [clientOrderId]);
        if (dup.rows.length > 0) throw new ExchangeError(422, ALPACA_ERROR.DUPLICATE_CLIENT_ORDER_ID, 'client_order_id must be unique');
        const bar = await lastBar(tx, body.symbol, now);
        if (!bar) throw new ExchangeError(422, ALPACA_ERROR.INVALID, `asset "${body.symbol}" has no price at ${now}`);
        await this.checkBuyingPower(tx, account.cash, body, bar.close);
        const id = randomUUID();
        await this.insertOrder(tx, {
          id,
          clientOrderId,
          symbol: body.symbol,
          side: body.side,
          qty: body.qty,
          type: body.type,
          tif: body.time_in_force,
          limit: body.limit_price ?? null,
          stop: body.stop_price ?? null,
          orderClass,
          parentId: null,
          legRole: null,
          status: 'new',
          now,
        });
        if (orderClass === 'bracket' && body.take_profit && body.stop_loss) {
          const exit = body.side === 'buy' ? 'sell' : 'buy';
          const common = { symbol: body.symbol, side: exit, qty: body.qty, tif: 'gtc', orderClass, parentId: id, status: 'held', now } as const;
          await this.insertOrder(tx, {
            ...common,
            id: randomUUID(),
            clientOrderId: randomUUID(),
            type: 'limit',
            limit: body.take_profit.limit_price,
            stop: null,
            legRole: 'take_profit',
          });
          await this.insertOrder(tx, {
            ...common,
            id: randomUUID(),
            clientOrderId: randomUUID(),
            type: 'stop',
            limit: null,
            stop: body.stop_loss.stop_price,
            legRole: 'stop_loss',
          });
        }
        if (this.settings.fillMode === 'immediate' && body.type === 'market') {
          const order = await this.orderById(tx, id);
          if (order) await this.fill(tx, order, this.slipped(bar.close, body.side), now);
        }
        const placed = await this.orderById(tx, id);
        if (!placed) throw new ExchangeError(500, 50000000, 'order vanished');
        return placed;
      });
    } catch (error) {
      // Two concurrent POSTs with one client_order_id: the UNIQUE index decides, the loser gets the 422.
      if (isUniqueViolation(error)) throw new ExchangeError(422, ALPACA_ERROR.DUPLICATE_CLIENT_ORDER_ID, 'client_order_id must be unique');
      throw error;
    }
  }

  private slipped(price: number, side: 'buy' | 'sell'): number {
    return slipped(price, side, this.settings.slippageBps);
  }

  private commission(qty: number, price: number): number {
    return commissionOf(qty, price, { commissionBps: this.settings.commissionBps, commissionPerShare: this.settings.commissionPerShare });
  }

  private async checkBuyingPower(tx: Queryable, cash: number, body: OrderRequestBody, lastClose: number): Promise<void> {
    if (body.side === 'buy') {
      const reserved = await this.reservedForBuys(tx);
      const price = body.type === 'limit' && body.limit_price != null ? body.limit_price : this.slipped(lastClose, 'buy');
      const cost = body.qty * price + this.commission(body.qty, price);
      if (cost > cash - reserved) {
        throw new ExchangeError(
          403,
          ALPACA_ERROR.INSUFFICIENT_BUYING_POWER,
          `insufficient buying power: need ${cost.toFixed(2)}, have ${(cash - reserved).toFixed(2)}`,
        );
      }
      return;
    }
    // The paper exchange is a cash account: a sell must be covered by a long position not held by other orders.
    const pos = await this.position(tx, body.symbol);
    const held = await tx.query(
      `SELECT coalesce(sum(qty - filled_qty), 0) AS held FROM paper_orders
        WHERE symbol = $1 AND side = 'sell' AND status = ANY($2) AND NOT (leg_role = 'take_profit')`,
      [body.symbol, [...OPEN_STATUSES]],
    );
    const heldQty = z.object({ held: z.coerce.number() }).parse(held.rows[0]).held;
    const available = (pos?.qty ?? 0) - heldQty;
    if (body.qty > available) {
      throw new ExchangeError(
        403,
        ALPACA_ERROR.INSUFFICIENT_QTY,
        `insufficient qty available for order (requested: ${body.qty}, available: ${Math.max(0, available)}); short selling is not simulated`,
      );
    }
  }

  private async reservedForBuys(tx: Queryable): Promise<number> {
    const res = await tx.query(
      `SELECT o.symbol, o.qty - o.filled_qty AS open_qty, o.limit_price, o.order_type FROM paper_orders o
        WHERE o.side = 'buy' AND o.parent_id IS NULL AND o.status = ANY($1)`,
      [[...OPEN_STATUSES]],
    );
    let total = 0;
    const now = await this.nowIn(tx);
    for (const r of res.rows) {
      const row = z.object({ symbol: z.string(), open_qty: z.number(), limit_price: z.number().nullable() }).parse(r);
      const price = row.limit_price ?? (await lastBar(tx, row.symbol, now))?.close ?? 0;
      total += row.open_qty * (row.limit_price ?? this.slipped(price, 'buy'));
    }
    return total;
  }

  private async nowIn(q: Queryable): Promise<string> {
    const res = await q.query('SELECT sim_now FROM paper_account WHERE id = 1');
    return z.object({ sim_now: z.coerce.date() }).parse(res.rows[0]).sim_now.toISOString();
  }

  private async insertOrder(
    tx: Queryable,
    o: {
      id: string;
      clientOrderId: string;
      symbol: string;
      side: 'buy' | 'sell';
      qty: number;
      type: 'market' | 'limit' | 'stop';
      tif: string;
      limit: number | null;
      stop: number | null;
      orderClass: 'simple' | 'bracket';
      parentId: string | null;
      legRole: 'take_profit' | 'stop_loss' | null;
      status: string;
      now: string;
    },
  ): Promise<void> {
    await tx.query(
      `INSERT INTO paper_orders (id, client_order_id, symbol, side, qty, order_type, time_in_force, limit_price, stop_price, order_class, parent_id, leg_role, status, submitted_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)`,
      [o.id, o.clientOrderId, o.symbol, o.side, o.qty, o.type, o.tif, o.limit, o.stop, o.orderClass, o.parentId, o.legRole, o.status, o.now],
    );
  }

  private async orderById(q: Queryable, id: string): Promise<PaperOrder | null> {
    const res = await q.query(`SELECT ${ORDER_COLUMNS} FROM paper_orders WHERE id = $1`, [id]);
    return res.rows[0] ? OrderRow.parse(res.rows[0]) : null;
  }

  async getOrder(id: string): Promise<PaperOrder | null> {
    return this.orderById(this.db, id);
  }

  async getOrderByClientId(clientOrderId: string): Promise<PaperOrder | null> {
    const res = await this.db.query(`SELECT ${ORDER_COLUMNS} FROM paper_orders WHERE client_order_id = $1`, [clientOrderId]);
    return res.rows[0] ? OrderRow.parse(res.rows[0]) : null;
  }

  /** A parent's legs (take profit first, as Alpaca lists them). */
  async legs(parentId: string): Promise<PaperOrder[]> {
    const res = await this.db.query(`SELECT ${ORDER_COLUMNS} FROM paper_orders WHERE parent_id = $1 ORDER BY leg_role DESC`, [parentId]);
    return res.rows.map((r) => OrderRow.parse(r));
  }

  /** Orders, newest first. `open` excludes terminal ones; legs are listed under their parent unless `includeLegs`. */
  async listOrders(query: { status: 'open' | 'closed' | 'all'; limit: number; symbols?: string[]; includeLegs?: boolean }): Promise<PaperOrder[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (!query.includeLegs) where.push('parent_id IS NULL');
    if (query.status === 'open') {
      params.push([...TERMINAL]);
      // A bracket parent that filled stays "open" in the sense that its legs still work; list the parent when a leg is open.
      where.push(
        `(NOT (status = ANY($${params.length})) OR EXISTS (SELECT 1 FROM paper_orders l WHERE l.parent_id = paper_orders.id AND NOT (l.status = ANY($${params.length}))))`,
      );
    } else if (query.status === 'closed') {
      params.push([...TERMINAL]);
      where.push(`status = ANY($${params.length})`);
    }
    if (query.symbols && query.symbols.length > 0) {
      params.push(query.symbols);
      where.push(`symbol = ANY($${params.length})`);
    }
    params.push(query.limit);
    const res = await this.db.query(
      `SELECT ${ORDER_COLUMNS} FROM paper_orders ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    return res.rows.map((r) => OrderRow.parse(r));
  }

  /** Cancels an open order (a parent's open legs too). Terminal orders are a 422, as at Alpaca. */
  async cancel(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const account = await this.lockedAccount(tx);
      const order = await this.orderById(tx, id);
      if (!order) throw new ExchangeError(404, ALPACA_ERROR.NOT_FOUND, 'order not found');
      const now = account.sim_now.toISOString();
      const legs = await tx.query(`SELECT id FROM paper_orders WHERE parent_id = $1 AND NOT (status = ANY($2))`, [id, [...TERMINAL]]);
      if (TERMINAL.has(order.status) && legs.rows.length === 0) {
        throw new ExchangeError(422, ALPACA_ERROR.NOT_CANCELABLE, `order is already in "${order.status}" state`);
      }
      await tx.query(
        `UPDATE paper_orders SET status = 'canceled', canceled_at = $2, updated_at = $2
          WHERE (id = $1 OR parent_id = $1) AND NOT (status = ANY($3))`,
        [id, now, [...TERMINAL]],
      );
      // Canceling one leg of a bracket cancels its sibling: the pair is one-cancels-other.
      if (order.parent_id) {
        await tx.query(`UPDATE paper_orders SET status = 'canceled', canceled_at = $2, updated_at = $2 WHERE parent_id = $1 AND NOT (status = ANY($3))`, [
          order.parent_id,
          now,
          [...TERMINAL],
        ]);
      }
    });
  }

  /** Changes an open order's stop or limit price in place (Alpaca's PATCH /v2/orders/:id). */
  async replace(id: string, change: { stopPrice?: number | null; limitPrice?: number | null }): Promise<PaperOrder> {
    return this.db.transaction(async (tx) => {
      const account = await this.lockedAccount(tx);
      const order = await this.orderById(tx, id);
      if (!order) throw new ExchangeError(404, ALPACA_ERROR.NOT_FOUND, 'order not found');
      if (TERMINAL.has(order.status)) throw new ExchangeError(422, ALPACA_ERROR.NOT_CANCELABLE, `order is already in "${order.status}" state`);
      await tx.query(`UPDATE paper_orders SET stop_price = coalesce($2, stop_price), limit_price = coalesce($3, limit_price), updated_at = $4 WHERE id = $1`, [
        id,
        change.stopPrice ?? null,
        change.limitPrice ?? null,
        account.sim_now.toISOString(),
      ]);
      const updated = await this.orderById(tx, id);
      if (!updated) throw new ExchangeError(500, 50000000, 'order vanished');
      return updated;
    });
  }

  // ---- positions and account -------------------------------------------------------------------

  private async position(q: Queryable, symbol: string): Promise<PaperPosition | null> {
    const res = await q.query('SELECT symbol, qty, avg_entry_price, opened_at FROM paper_positions WHERE symbol = $1', [symbol]);
    return res.rows[0] ? PositionRow.parse(res.rows[0]) : null;
  }

  /** Open positions valued at the last close at or before the simulated now. */
  async positions(): Promise<PositionState[]> {
    const now = await this.now();
    const res = await this.db.query('SELECT symbol, qty, avg_entry_price, opened_at FROM paper_positions ORDER BY symbol');
    const out: PositionState[] = [];
    for (const r of res.rows) {
      const p = PositionRow.parse(r);
      const bars = await barsAsOf(this.db, { ticker: p.symbol, asOf: now, limit: 2 });
      const last = bars[bars.length - 1]?.close ?? p.avg_entry_price;
      const prev = bars.length > 1 ? (bars[0]?.close ?? last) : last;
      out.push({ ...p, currentPrice: last, lastdayPrice: prev });
    }
    return out;
  }

  async account(): Promise<AccountState> {
    const res = await this.db.query('SELECT account_id, cash, last_equity, sim_now, created_at FROM paper_account WHERE id = 1');
    if (res.rows.length === 0) throw new ExchangeError(500, 50000000, 'paper exchange not initialised');
    const a = AccountRow.parse(res.rows[0]);
    const positions = await this.positions();
    let longMv = 0;
    let shortMv = 0;
    for (const p of positions) {
      const mv = p.qty * p.currentPrice;
      if (mv >= 0) longMv += mv;
      else shortMv += mv;
    }
    const reserved = await this.reservedForBuys(this.db);
    return {
      id: a.account_id,
      cash: a.cash,
      equity: a.cash + longMv + shortMv,
      lastEquity: a.last_equity,
      longMarketValue: longMv,
      shortMarketValue: shortMv,
      buyingPower: Math.max(0, a.cash - reserved),
      now: a.sim_now.toISOString(),
      createdAt: a.created_at.toISOString(),
    };
  }

  /** Closes a position with a market order for its whole quantity (after canceling its open orders). */
  async closePosition(symbol: string): Promise<PaperOrder> {
    const pos = await this.position(this.db, symbol);
    if (!pos) throw new ExchangeError(404, ALPACA_ERROR.NOT_FOUND, 'position does not exist');
    const open = await this.db.query(`SELECT id FROM paper_orders WHERE symbol = $1 AND parent_id IS NULL AND status = ANY($2)`, [symbol, [...OPEN_STATUSES]]);
    const openLegs = await this.db.query(`SELECT id FROM paper_orders WHERE symbol = $1 AND parent_id IS NOT NULL AND status = ANY($2)`, [
      symbol,
      [...OPEN_STATUSES],
    ]);
    for (const r of [...open.rows, ...openLegs.rows]) {
      const id = z.object({ id: z.string() }).parse(r).id;
      const o = await this.getOrder(id);
      if (o && !TERMINAL.has(o.status)) await this.cancel(id);
    }
    return this.submit({ symbol, qty: Math.abs(pos.qty), side: pos.qty > 0 ? 'sell' : 'buy', type: 'market', time_in_force: 'day' });
  }

  // ---- the clock and matching -------------------------------------------------------------------

  /** Moves the simulated clock to the n-th next bar time of any stored bar (default 1). */
  async advanceBars(n = 1): Promise<string> {
    const now = await this.now();
    const res = await this.db.query('SELECT DISTINCT ts FROM bars WHERE ts > $1 ORDER BY ts ASC LIMIT $2', [now, n]);
    const rows = res.rows.map((r) => z.object({ ts: z.coerce.date() }).parse(r).ts.toISOString());
    const target = rows[rows.length - 1];
    if (!target) return now;
    await this.setNow(target);
    return target;
  }

  /**
   * Sets the clock for a session at `asOf`: forward as `setNow` (filling what the bars in between
   * trigger), or back when the session is dated before the clock (an earlier date run after a later
   * one). Going back fills and undoes nothing, and the book keeps what later-dated sessions did; their
   * orders keep working only on bars that close after they were placed (`matchBar`), so the session's
   * own orders are priced and filled from its own next bar. Returns the new now.
   */
  async startSession(asOf: string): Promise<string> {
    const to = new Date(Date.parse(asOf)).toISOString();
    if (Date.parse(to) >= Date.parse(await this.now())) {
      await this.setNow(to);
      return to;
    }
    await this.db.transaction(async (tx) => {
      await this.lockedAccount(tx);
      await tx.query('UPDATE paper_account SET sim_now = $1 WHERE id = 1', [to]);
      // last_equity is the book at the close before the new day, as a forward move leaves it.
      const dayStart = new Date(nyInstant(nyDate(to), 0)).toISOString();
      const prev = await tx.query('SELECT max(ts) AS ts FROM bars WHERE ts < $1', [dayStart]);
      const prevClose = z.object({ ts: z.coerce.date().nullable() }).parse(prev.rows[0]).ts;
      if (prevClose) await this.markLastEquity(tx, prevClose.toISOString());
    });
    return to;
  }

  /**
   * Moves the simulated clock forward to `to`, filling what every bar in between triggers, bar by bar.
   * The clock never moves back here (a 422); a session dated earlier than the clock uses `startSession`.
   */
  async setNow(to: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const account = await this.lockedAccount(tx);
      const from = account.sim_now.toISOString();
      if (Date.parse(to) < Date.parse(from)) throw new ExchangeError(422, ALPACA_ERROR.INVALID, `the clock cannot move back (now ${from}, asked ${to})`);
      const symbolsRes = await tx.query(`SELECT DISTINCT symbol FROM paper_orders WHERE status = ANY($1) UNION SELECT symbol FROM paper_positions`, [
        [...OPEN_STATUSES],
      ]);
      const symbols = symbolsRes.rows.map((r) => z.object({ symbol: z.string() }).parse(r).symbol);
      const barsRes = symbols.length
        ? await tx.query(
            `SELECT ticker, timeframe, ts, open, high, low, close, volume, source FROM bars
              WHERE ticker = ANY($1) AND timeframe = '1Day' AND ts > $2 AND ts <= $3 ORDER BY ts, ticker`,
            [symbols, from, to],
          )
        : { rows: [] };
      let current = from;
      for (const raw of barsRes.rows) {
        const bar = BarRow.parse(raw);
        const ts = bar.ts.toISOString();
        if (nyDate(ts) !== nyDate(current)) await this.markLastEquity(tx, current);
        current = ts;
        await this.matchBar(tx, { ...bar, ts });
      }
      if (nyDate(to) !== nyDate(current)) await this.markLastEquity(tx, current);
      await tx.query('UPDATE paper_account SET sim_now = $1 WHERE id = 1', [to]);
    });
  }

  private async markLastEquity(tx: Queryable, at: string): Promise<void> {
    const cashRes = await tx.query('SELECT cash FROM paper_account WHERE id = 1');
    const cash = z.object({ cash: z.number() }).parse(cashRes.rows[0]).cash;
    const posRes = await tx.query('SELECT symbol, qty, avg_entry_price, opened_at FROM paper_positions');
    let equity = cash;
    for (const r of posRes.rows) {
      const p = PositionRow.parse(r);
      equity += p.qty * ((await lastBar(tx, p.symbol, at))?.close ?? p.avg_entry_price);
    }
    await tx.query('UPDATE paper_account SET last_equity = $1 WHERE id = 1', [equity]);
  }

  private async matchBar(tx: Queryable, bar: Pick<Bar, 'ticker' | 'ts' | 'open' | 'high' | 'low' | 'close'>): Promise<void> {
    const res = await tx.query(
      `SELECT ${ORDER_COLUMNS} FROM paper_orders WHERE symbol = $1 AND status = ANY($2) AND status <> 'held' AND submitted_at < $3
        ORDER BY (leg_role = 'stop_loss') DESC NULLS LAST, seq`,
      [bar.ticker, [...OPEN_STATUSES], bar.ts],
    );
    // Stop legs first: when one bar touches both the stop and the target, assume the worse outcome.
    for (const raw of res.rows) {
      const candidate = OrderRow.parse(raw);
      const order = await this.orderById(tx, candidate.id);
      if (!order || !OPEN_STATUSES.includes(order.status as (typeof OPEN_STATUSES)[number]) || order.status === 'held') continue;
      const price = fillPrice(fillOrderOf(order), bar, this.settings);
      if (price === null) continue;
      await this.fill(tx, order, price, bar.ts);
    }
  }

  private async fill(tx: Queryable, order: PaperOrder, price: number, at: string): Promise<void> {
    const qty = order.qty - order.filled_qty;
    const commission = this.commission(qty, price);
    const signed = order.side === 'buy' ? qty : -qty;
    await tx.query(`INSERT INTO paper_fills (id, order_id, symbol, side, qty, price, commission, filled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      randomUUID(),
      order.id,
      order.symbol,
      order.side,
      qty,
      price,
      commission,
      at,
    ]);
    await tx.query(`UPDATE paper_orders SET status = 'filled', filled_qty = qty, filled_avg_price = $2, filled_at = $3, updated_at = $3 WHERE id = $1`, [
      order.id,
      price,
      at,
    ]);
    await tx.query('UPDATE paper_account SET cash = cash - $1 WHERE id = 1', [signed * price + commission]);
    await this.applyToPosition(tx, order.symbol, signed, price, at);
    if (order.order_class === 'bracket' && order.parent_id === null) {
      // The entry filled: its legs start working from the next bar.
      await tx.query(`UPDATE paper_orders SET status = 'new', submitted_at = $2, updated_at = $2 WHERE parent_id = $1 AND status = 'held'`, [order.id, at]);
    }
    if (order.parent_id !== null) {
      await tx.query(
        `UPDATE paper_orders SET status = 'canceled', canceled_at = $3, updated_at = $3 WHERE parent_id = $1 AND id <> $2 AND NOT (status = ANY($4))`,
        [order.parent_id, order.id, at, [...TERMINAL]],
      );
    }
  }

  private async applyToPosition(tx: Queryable, symbol: string, signedQty: number, price: number, at: string): Promise<void> {
    const pos = await this.position(tx, symbol);
    if (!pos) {
      await tx.query('INSERT INTO paper_positions (symbol, qty, avg_entry_price, opened_at) VALUES ($1, $2, $3, $4)', [symbol, signedQty, price, at]);
      return;
    }
    const next = pos.qty + signedQty;
    if (Math.abs(next) < 1e-9) {
      await tx.query('DELETE FROM paper_positions WHERE symbol = $1', [symbol]);
    } else if (Math.sign(next) !== Math.sign(pos.qty)) {
      await tx.query('UPDATE paper_positions SET qty = $2, avg_entry_price = $3, opened_at = $4 WHERE symbol = $1', [symbol, next, price, at]);
    } else if (Math.abs(next) > Math.abs(pos.qty)) {
      const avg = (pos.qty * pos.avg_entry_price + signedQty * price) / next;
      await tx.query('UPDATE paper_positions SET qty = $2, avg_entry_price = $3 WHERE symbol = $1', [symbol, next, avg]);
    } else {
      await tx.query('UPDATE paper_positions SET qty = $2 WHERE symbol = $1', [symbol, next]);
    }
  }

  // ---- market data served to the SDK -----------------------------------------------------------

  /** Stored daily bars up to the simulated now (never a later bar). */
  async bars(symbol: string, query: { start?: string; end?: string; limit?: number }): Promise<Bar[]> {
    const now = await this.now();
    const end = query.end && Date.parse(query.end) < Date.parse(now) ? query.end : now;
    const bars = await barsAsOf(this.db, { ticker: symbol, asOf: end, limit: query.limit ?? 1000 });
    return query.start ? bars.filter((b) => Date.parse(b.ts) >= Date.parse(query.start ?? '')) : bars;
  }

  /** Trading days: the days with stored bars, and weekdays after the last stored bar. */
  async calendar(start: string, end: string): Promise<string[]> {
    const res = await this.db.query(
      `SELECT DISTINCT (ts AT TIME ZONE 'America/New_York')::date::text AS d FROM bars WHERE ts >= $1::date - 1 AND ts < $2::date + 2`,
      [start, end],
    );
    const withBars = new Set(res.rows.map((r) => z.object({ d: z.string() }).parse(r).d).filter((d) => d >= start && d <= end));
    const lastRes = await this.db.query(`SELECT max(ts) AS ts FROM bars`);
    const last = z.object({ ts: z.coerce.date().nullable() }).parse(lastRes.rows[0]).ts;
    const lastDate = last ? nyDate(last.toISOString()) : '0000-00-00';
    for (const d of weekdaysBetween(start > lastDate ? start : lastDate, end)) if (d > lastDate) withBars.add(d);
    return [...withBars].sort();
  }
}

const BarRow = z.object({
  ticker: z.string(),
  ts: z.coerce.date(),
  open: z.number().nullable(),
  high: z.number().nullable(),
  low: z.number().nullable(),
  close: z.number(),
});

/** A paper order as the fill model sees it. */
function fillOrderOf(order: Pick<PaperOrder, 'order_type' | 'side' | 'limit_price' | 'stop_price'>): FillOrder {
  return { type: order.order_type, side: order.side, limitPrice: order.limit_price, stopPrice: order.stop_price };
}

/**
 * The price at which a working order is reached on a bar, before slippage, or null when the bar does
 * not reach it: the fill model's `triggerPrice` (execution/fill-model.ts) over a paper order's fields.
 * Close-only bars (no open/high/low) use the close for all three.
 */
export function triggerPrice(
  order: Pick<PaperOrder, 'order_type' | 'side' | 'limit_price' | 'stop_price'>,
  bar: { open: number | null; high: number | null; low: number | null; close: number },
): number | null {
  return triggerOf(fillOrderOf(order), bar);
}
