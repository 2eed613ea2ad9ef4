import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { createPaperExchangeApp, PaperExchange, triggerPrice } from '../../execution/index.ts';
import { barsFromCloses, exchangeSettings, loadBars } from './support.ts';

const CLOSES = Array.from({ length: 30 }, (_, i) => 100 + i);

describe('fill prices from a bar', () => {
  const bar = { open: 100, high: 105, low: 95, close: 102 };
  it('fills a market order at the open, a stop at the stop price, and a gap through the stop at the open', () => {
    expect(triggerPrice({ order_type: 'market', side: 'buy', limit_price: null, stop_price: null }, bar)).toBe(100);
    expect(triggerPrice({ order_type: 'stop', side: 'sell', limit_price: null, stop_price: 96 }, bar)).toBe(96);
    expect(triggerPrice({ order_type: 'stop', side: 'sell', limit_price: null, stop_price: 101 }, bar)).toBe(100);
    expect(triggerPrice({ order_type: 'stop', side: 'sell', limit_price: null, stop_price: 90 }, bar)).toBeNull();
    expect(triggerPrice({ order_type: 'limit', side: 'sell', limit_price: 104, stop_price: null }, bar)).toBe(104);
    expect(triggerPrice({ order_type: 'limit', side: 'sell', limit_price: 106, stop_price: null }, bar)).toBeNull();
  });
  it('uses the close for all three prices of a close-only bar', () => {
    const closeOnly = { open: null, high: null, low: null, close: 50 };
    expect(triggerPrice({ order_type: 'stop', side: 'sell', limit_price: null, stop_price: 51 }, closeOnly)).toBe(50);
    expect(triggerPrice({ order_type: 'limit', side: 'sell', limit_price: 51, stop_price: null }, closeOnly)).toBeNull();
  });
});

describe.each(BACKENDS)('paper exchange HTTP API ($name)', ({ open, available }) => {
  let t: TestDb;
  let app: Hono;
  let ex: PaperExchange;
  let bars: ReturnType<typeof barsFromCloses>;
  const post = (path: string, body: unknown) =>
    app.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    bars = barsFromCloses('MSFT', '2020-01-01', CLOSES);
    await loadBars(t.db, bars);
    ex = new PaperExchange(t.db, exchangeSettings({ fillMode: 'immediate', slippageBps: 10, commissionPerShare: 0.01 }));
    await ex.init(bars[9]?.ts);
    app = createPaperExchangeApp(ex);
  });
  afterAll(async () => {
    if (!available) return;
    await t.cleanup();
  });

  it.skipIf(!available)('fills a market order immediately at the last close plus slippage and charges commission', async () => {
    const res = await post('/v2/orders', { symbol: 'MSFT', qty: '10', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: 'imm-1' });
    expect(res.status).toBe(200);
    const order = (await res.json()) as Record<string, unknown>;
    expect(order).toMatchObject({ status: 'filled', filled_qty: '10', client_order_id: 'imm-1', order_class: '' });
    expect(Number(order.filled_avg_price)).toBeCloseTo(109 * 1.001, 9);
    const account = (await (await app.request('/v2/account')).json()) as Record<string, string>;
    expect(Number(account.cash)).toBeCloseTo(100_000 - 10 * 109 * 1.001 - 0.1, 6);
  });

  it.skipIf(!available)("answers a duplicate client_order_id with 422 in Alpaca's error shape", async () => {
    const res = await post('/v2/orders', { symbol: 'MSFT', qty: 1, side: 'buy', type: 'market', client_order_id: 'imm-1' });
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({ code: 40010001, message: 'client_order_id must be unique' });
  });

  it.skipIf(!available)('refuses a bad order body with 422 naming the field, and storing nothing', async () => {
    const res = await post('/v2/orders', { symbol: 'MSFT', qty: -3, side: 'buy', type: 'market', client_order_id: 'bad-1' });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { message: string }).message).toMatch(/^qty: must be positive/);
    expect((await app.request('/v2/orders:by_client_order_id?client_order_id=bad-1')).status).toBe(404);
  });

  it.skipIf(!available)('refuses a buy beyond buying power with 403 and a sell without shares', async () => {
    const big = await post('/v2/orders', { symbol: 'MSFT', qty: 10_000, side: 'buy', type: 'market' });
    expect(big.status).toBe(403);
    expect(((await big.json()) as { code: number }).code).toBe(40310000);
    const short = await post('/v2/orders', { symbol: 'MSFT', qty: 11, side: 'sell', type: 'market' });
    expect(short.status).toBe(403);
  });

  it.skipIf(!available)('looks orders up by client_order_id and lists open ones with bracket legs nested', async () => {
    const res = await post('/v2/orders', {
      symbol: 'MSFT',
      qty: 2,
      side: 'buy',
      type: 'limit',
      limit_price: 50,
      order_class: 'bracket',
      take_profit: { limit_price: 60 },
      stop_loss: { stop_price: 45 },
      client_order_id: 'br-1',
      time_in_force: 'gtc',
    });
    expect(res.status).toBe(200);
    const found = (await (await app.request('/v2/orders:by_client_order_id?client_order_id=br-1')).json()) as { legs: Array<{ status: string }> };
    expect(found.legs.map((l) => l.status)).toEqual(['held', 'held']);
    const openOrders = (await (await app.request('/v2/orders?status=open')).json()) as Array<{ client_order_id: string }>;
    expect(openOrders.map((o) => o.client_order_id)).toEqual(['br-1']);
    const id = (found as unknown as { id: string }).id;
    expect((await app.request(`/v2/orders/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await app.request(`/v2/orders/${id}`, { method: 'DELETE' })).status).toBe(422);
    const after = (await (await app.request(`/v2/orders/${id}`)).json()) as { status: string; legs: Array<{ status: string }> };
    expect([after.status, ...after.legs.map((l) => l.status)]).toEqual(['canceled', 'canceled', 'canceled']);
  });

  it.skipIf(!available)('serves bars only up to its simulated now, and a clock that only moves forward', async () => {
    const now = (await (await app.request('/v1/sim/clock')).json()) as { now: string };
    const served = (await (await app.request('/v2/stocks/MSFT/bars?timeframe=1Day&limit=1000')).json()) as { bars: Array<{ t: string }> };
    expect(served.bars).toHaveLength(10);
    expect(served.bars.every((b) => Date.parse(b.t) <= Date.parse(now.now))).toBe(true);
    expect((await post('/v1/sim/clock', { now: bars[3]?.ts })).status).toBe(422);
    const advanced = (await (await post('/v1/sim/advance', { bars: 2 })).json()) as { now: string };
    expect(advanced.now).toBe(bars[11]?.ts);
    const clock = (await (await app.request('/v2/clock')).json()) as Record<string, unknown>;
    expect(clock).toMatchObject({ timestamp: bars[11]?.ts, is_open: false });
  });

  it.skipIf(!available)('serves a calendar of the days with bars and weekdays beyond them', async () => {
    const days = (await (await app.request('/v2/calendar?start=2020-01-01&end=2020-03-06')).json()) as Array<{ date: string; open: string }>;
    expect(days[0]).toEqual(expect.objectContaining({ date: '2020-01-01', open: '09:30' }));
    expect(days.some((d) => d.date === '2020-01-04')).toBe(false);
    expect(days.at(-1)?.date).toBe('2020-03-06');
  });

  it.skipIf(!available)("answers an unknown endpoint with 404 in Alpaca's shape", async () => {
    const res = await app.request('/v2/watchlists');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 40410000 });
  });
});
