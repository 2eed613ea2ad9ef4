import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { parseJson, fieldIssues, formatIssues } from '../../contracts/index.ts';
import { marketClock } from './market-time.ts';
import { ALPACA_ERROR, ExchangeError, OrderRequestBody, type AccountState, type PaperExchange, type PaperOrder, type PositionState } from './engine.ts';

/**
 * Fault injection for tests (test doubles for faults only): `before` may answer instead of the
 * exchange (e.g. a 500), `after` runs once the exchange has done the work and before the reply is
 * sent (e.g. a delay longer than the client's timeout).
 */
export interface ExchangeFaults {
  before?(req: { method: string; path: string }): Promise<Response | undefined> | Response | undefined;
  after?(req: { method: string; path: string }): Promise<void> | void;
}

const num = (n: number | null): string | null => (n === null ? null : String(n));
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function assetId(symbol: string): string {
  // A stable fake asset id per symbol (Alpaca's are UUIDs).
  const hex = Buffer.from(symbol.padEnd(16, '_')).toString('hex').slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** An order in Alpaca's wire shape (numbers as strings, snake_case). */
export function renderOrder(o: PaperOrder, legs: PaperOrder[] | null): Record<string, unknown> {
  return {
    id: o.id,
    client_order_id: o.client_order_id,
    created_at: o.submitted_at.toISOString(),
    updated_at: o.updated_at.toISOString(),
    submitted_at: o.submitted_at.toISOString(),
    filled_at: iso(o.filled_at),
    expired_at: null,
    canceled_at: iso(o.canceled_at),
    failed_at: null,
    replaced_at: null,
    replaced_by: null,
    replaces: null,
    asset_id: assetId(o.symbol),
    symbol: o.symbol,
    asset_class: 'us_equity',
    notional: null,
    qty: String(o.qty),
    filled_qty: String(o.filled_qty),
    filled_avg_price: num(o.filled_avg_price),
    order_class: o.order_class === 'simple' ? '' : o.order_class,
    order_type: o.order_type,
    type: o.order_type,
    side: o.side,
    position_intent: o.side === 'buy' ? 'buy_to_open' : 'sell_to_close',
    time_in_force: o.time_in_force,
    limit_price: num(o.limit_price),
    stop_price: num(o.stop_price),
    status: o.status,
    extended_hours: false,
    legs: legs ? legs.map((l) => renderOrder(l, null)) : null,
    trail_percent: null,
    trail_price: null,
    hwm: null,
  };
}

function renderPosition(p: PositionState): Record<string, unknown> {
  const marketValue = p.qty * p.currentPrice;
  const costBasis = p.qty * p.avg_entry_price;
  const pl = marketValue - costBasis;
  const intraday = p.qty * (p.currentPrice - p.lastdayPrice);
  return {
    asset_id: assetId(p.symbol),
    symbol: p.symbol,
    exchange: 'NYSE',
    asset_class: 'us_equity',
    asset_marginable: false,
    avg_entry_price: String(p.avg_entry_price),
    qty: String(p.qty),
    qty_available: String(p.qty),
    side: p.qty >= 0 ? 'long' : 'short',
    market_value: String(marketValue),
    cost_basis: String(costBasis),
    unrealized_pl: String(pl),
    unrealized_plpc: String(costBasis === 0 ? 0 : pl / Math.abs(costBasis)),
    unrealized_intraday_pl: String(intraday),
    unrealized_intraday_plpc: String(p.lastdayPrice === 0 ? 0 : (p.currentPrice - p.lastdayPrice) / p.lastdayPrice),
    current_price: String(p.currentPrice),
    lastday_price: String(p.lastdayPrice),
    change_today: String(p.lastdayPrice === 0 ? 0 : (p.currentPrice - p.lastdayPrice) / p.lastdayPrice),
    opened_at: p.opened_at.toISOString(),
  };
}

function renderAccount(a: AccountState): Record<string, unknown> {
  return {
    id: a.id,
    account_number: `PA${a.id.replace(/-/g, '').slice(0, 10).toUpperCase()}`,
    status: 'ACTIVE',
    crypto_status: 'INACTIVE',
    currency: 'USD',
    cash: String(a.cash),
    buying_power: String(a.buyingPower),
    regt_buying_power: String(a.buyingPower),
    daytrading_buying_power: '0',
    non_marginable_buying_power: String(a.buyingPower),
    portfolio_value: String(a.equity),
    equity: String(a.equity),
    last_equity: String(a.lastEquity),
    long_market_value: String(a.longMarketValue),
    short_market_value: String(a.shortMarketValue),
    initial_margin: '0',
    maintenance_margin: '0',
    last_maintenance_margin: '0',
    multiplier: '1',
    sma: '0',
    daytrade_count: 0,
    pattern_day_trader: false,
    trading_blocked: false,
    transfers_blocked: false,
    account_blocked: false,
    trade_suspended_by_user: false,
    shorting_enabled: false,
    created_at: a.createdAt,
    balance_asof: a.now.slice(0, 10),
  };
}

function alpacaError(c: Context, status: number, code: number, message: string): Response {
  return c.json({ code, message }, status as 400);
}

async function readJsonBody(c: Context): Promise<unknown> {
  const parsed = parseJson(await c.req.text());
  if (!parsed.ok) throw new ExchangeError(400, ALPACA_ERROR.INVALID, `request body is not valid JSON: ${parsed.error}`);
  return parsed.value;
}

function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ExchangeError(422, ALPACA_ERROR.INVALID, formatIssues(fieldIssues(result.error)));
  return result.data;
}

const OrdersQuery = z.object({
  status: z.enum(['open', 'closed', 'all']).default('open'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  nested: z.enum(['true', 'false']).optional(),
  symbols: z.string().optional(),
});

/**
 * The Hono app of the local Alpaca-compatible paper exchange: the trading endpoints the SDK calls,
 * the data API's daily bars, and /v1/sim/* to drive its simulated clock.
 */
export function createPaperExchangeApp(exchange: PaperExchange, options: { faults?: ExchangeFaults } = {}): Hono {
  const app = new Hono();
  const faults = options.faults;

  app.onError((error, c) => {
    if (error instanceof ExchangeError) return alpacaError(c, error.status, error.code, error.message);
    return alpacaError(c, 500, 50000000, `internal error: ${error instanceof Error ? error.message : String(error)}`);
  });

  if (faults) {
    app.use('*', async (c, next) => {
      const req = { method: c.req.method, path: c.req.path };
      const early = await faults.before?.(req);
      if (early) return early;
      await next();
      await faults.after?.(req);
    });
  }

  // Alpaca nests a bracket's legs under its parent; this exchange always does.
  const withLegs = async (o: PaperOrder): Promise<Record<string, unknown>> =>
    renderOrder(o, o.order_class === 'bracket' && o.parent_id === null ? await exchange.legs(o.id) : null);

  app.get('/v2/account', async (c) => c.json(renderAccount(await exchange.account())));

  app.get('/v2/positions', async (c) => c.json((await exchange.positions()).map(renderPosition)));

  app.get('/v2/positions/:symbol', async (c) => {
    const p = (await exchange.positions()).find((x) => x.symbol === c.req.param('symbol'));
    if (!p) throw new ExchangeError(404, ALPACA_ERROR.NOT_FOUND, 'position does not exist');
    return c.json(renderPosition(p));
  });

  app.delete('/v2/positions/:symbol', async (c) => {
    const order = await exchange.closePosition(c.req.param('symbol'));
    return c.json(renderOrder(order, null));
  });

  app.post('/v2/orders', async (c) => {
    const body = parseBody(OrderRequestBody, await readJsonBody(c));
    const order = await exchange.submit(body);
    return c.json(await withLegs(order));
  });

  app.get('/v2/orders', async (c) => {
    const q = parseBody(OrdersQuery, c.req.query());
    const symbols = q.symbols
      ? q.symbols
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
    const orders = await exchange.listOrders({ status: q.status, limit: q.limit, symbols });
    return c.json(await Promise.all(orders.map((o) => withLegs(o))));
  });

  // Registered before /v2/orders/:id; the ':' here is literal (Hono parameters start after a '/').
  app.get('/v2/orders:by_client_order_id', async (c) => {
    const clientOrderId = c.req.query('client_order_id');
    if (!clientOrderId) throw new ExchangeError(422, ALPACA_ERROR.INVALID, 'client_order_id is required');
    const order = await exchange.getOrderByClientId(clientOrderId);
    if (!order) throw new ExchangeError(404, ALPACA_ERROR.NOT_FOUND, 'order not found');
    return c.json(await withLegs(order));
  });

  app.get('/v2/orders/:id', async (c) => {
    const order = await exchange.getOrder(c.req.param('id'));
    if (!order) throw new ExchangeError(404, ALPACA_ERROR.NOT_FOUND, 'order not found');
    return c.json(await withLegs(order));
  });

  app.patch('/v2/orders/:id', async (c) => {
    const body = parseBody(
      z.object({ stop_price: z.coerce.number().positive().nullish(), limit_price: z.coerce.number().positive().nullish() }).passthrough(),
      await readJsonBody(c),
    );
    const order = await exchange.replace(c.req.param('id'), { stopPrice: body.stop_price, limitPrice: body.limit_price });
    return c.json(renderOrder(order, null));
  });

  app.delete('/v2/orders/:id', async (c) => {
    await exchange.cancel(c.req.param('id'));
    return c.body(null, 204);
  });

  app.get('/v2/clock', async (c) => {
    const clock = marketClock(await exchange.now());
    return c.json({ timestamp: clock.timestamp, is_open: clock.isOpen, next_open: clock.nextOpen, next_close: clock.nextClose });
  });

  app.get('/v2/calendar', async (c) => {
    const now = (await exchange.now()).slice(0, 10);
    const start = c.req.query('start')?.slice(0, 10) ?? now;
    const end = c.req.query('end')?.slice(0, 10) ?? start;
    const days = await exchange.calendar(start, end);
    return c.json(days.map((date) => ({ date, open: '09:30', close: '16:00', session_open: '0400', session_close: '2000', settlement_date: date })));
  });

  app.get('/v2/stocks/:symbol/bars', async (c) => {
    const symbol = c.req.param('symbol');
    const limit = Number(c.req.query('limit') ?? 1000);
    const bars = await exchange.bars(symbol, { start: c.req.query('start'), end: c.req.query('end'), limit: Number.isFinite(limit) ? limit : 1000 });
    return c.json({
      symbol,
      next_page_token: null,
      bars: bars.map((b) => ({ t: b.ts, o: b.open ?? b.close, h: b.high ?? b.close, l: b.low ?? b.close, c: b.close, v: b.volume ?? 0, n: 0, vw: b.close })),
    });
  });

  // The simulated clock (not an Alpaca endpoint): tests and the demo step through bars with it.
  app.get('/v1/sim/clock', async (c) => c.json({ now: await exchange.now() }));
  // `session: true` sets the clock for a session at `now`, back as well as forward (PaperExchange.startSession).
  app.post('/v1/sim/clock', async (c) => {
    const body = parseBody(z.object({ now: z.iso.datetime({ offset: true }), session: z.boolean().optional() }).strict(), await readJsonBody(c));
    if (body.session) await exchange.startSession(body.now);
    else await exchange.setNow(body.now);
    return c.json({ now: await exchange.now() });
  });
  app.post('/v1/sim/advance', async (c) => {
    const body = parseBody(z.object({ bars: z.number().int().min(1).max(10_000).default(1) }).strict(), await readJsonBody(c));
    return c.json({ now: await exchange.advanceBars(body.bars) });
  });

  app.notFound((c) => alpacaError(c, 404, ALPACA_ERROR.NOT_FOUND, `endpoint not found: ${c.req.method} ${c.req.path}`));
  return app;
}
