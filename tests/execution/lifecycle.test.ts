import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadConfig } from '../../config/index.ts';
import {
  AlpacaBroker,
  buildPortfolioSnapshot,
  intentFromDecision,
  loadPositions,
  startPaperExchange,
  submitIntent,
  syncOpenOrders,
  type RunningPaperExchange,
} from '../../execution/index.ts';
import { barsFromCloses, decision, exchangeSettings, loadBars, seedDecision } from './support.ts';

// 30 flat days around 100, then up (entry fills at the next open), then a drop through the stop at 97.
const CLOSES = [...Array.from({ length: 30 }, (_, i) => 100 + (i % 2) * 0.2), 101, 102, 95, 94];
const ENTRY_DAY = 29;

describe.each(BACKENDS)('order lifecycle through the real Alpaca SDK over HTTP ($name)', ({ open, available }) => {
  let t: TestDb;
  let px: RunningPaperExchange;
  let broker: AlpacaBroker;

  beforeEach(async () => {
    if (!available) return;
    t = await open();
    const bars = barsFromCloses('MSFT', '2020-01-01', CLOSES);
    await loadBars(t.db, bars);
    px = await startPaperExchange({ db: t.db, settings: exchangeSettings(), port: 0, initialNow: bars[ENTRY_DAY]?.ts });
    broker = new AlpacaBroker({ mode: 'paper', liveTradingAllowed: false, keyId: 'k', secret: 's', baseUrl: px.url, timeoutMs: 5_000 });
  });

  afterEach(async () => {
    if (!available) return;
    await px.close();
    await t.cleanup();
  });

  it.skipIf(!available)('places a bracket order, fills it at the next open, stops out, closes the position and stores every step', async () => {
    const d = decision({ decidedAt: await px.exchange.now() });
    await seedDecision(t.db, d);
    const intent = intentFromDecision(d, 'session-1');

    const placed = await submitIntent(t.db, broker, intent);
    expect(placed.status).toBe('accepted');
    expect(placed.alreadyExisted).toBe(false);
    const onBroker = await broker.getOrderByClientId(intent.clientOrderId);
    expect(onBroker?.orderClass).toBe('bracket');
    expect(onBroker?.legs.map((l) => [l.type, l.status]).sort()).toEqual([
      ['limit', 'held'],
      ['stop', 'held'],
    ]);

    // Next bar: the entry fills at its open (the previous close, 100.2 here: no slippage configured).
    await px.exchange.advanceBars(1);
    await syncOpenOrders(t.db, broker);
    expect(await broker.listPositions()).toEqual([expect.objectContaining({ symbol: 'MSFT', qty: 10, avgEntryPrice: 100.2 })]);
    expect(await loadPositions(t.db)).toEqual([expect.objectContaining({ ticker: 'MSFT', qty: 10, avgPrice: 100.2 })]);

    // A pass with nothing new at the broker (the exit monitor's, every few minutes) writes nothing.
    const stored = async (): Promise<unknown> =>
      (
        await t.db.query(
          `SELECT (SELECT string_agg(id || ' ' || status || ' ' || updated_at::text, ', ' ORDER BY id) FROM orders) AS orders,
                  (SELECT count(*)::int FROM audit_events) AS audit`,
        )
      ).rows[0];
    const unchanged = await stored();
    expect(await syncOpenOrders(t.db, broker)).toBe(1);
    expect(await stored()).toEqual(unchanged);

    // The risk controller's view: read from the broker, stamped with when the account was read.
    const before = Date.now();
    const snapshot = await buildPortfolioSnapshot(t.db, broker, loadConfig({ env: {} }));
    expect(Date.parse(snapshot.asOf)).toBeGreaterThanOrEqual(before - 1000);
    expect(snapshot).toMatchObject({
      tradingState: 'ACTIVE',
      positions: [expect.objectContaining({ ticker: 'MSFT', qty: 10, avgPrice: 100.2, sector: 'Technology' })],
      // The filled bracket works through its exit legs: an order that reduces the position, not a second entry.
      openOrders: [expect.objectContaining({ ticker: 'MSFT', clientOrderId: intent.clientOrderId, side: 'sell', qty: 10 })],
      // The order was decided at the exchange's 2020 clock: not one of today's orders for the throttle.
      recentOrderTimes: [],
    });
    expect(snapshot.equity).toBeCloseTo(snapshot.cash + 10 * CLOSES[ENTRY_DAY + 1]!, 6);
    // Read at the decision's own clock, the throttle counts it.
    expect((await buildPortfolioSnapshot(t.db, broker, loadConfig({ env: {} }), { asOf: intent.createdAt })).recentOrderTimes).toEqual([intent.createdAt]);

    // Two bars later the low goes through 97: the stop leg fills, the take-profit leg is canceled.
    await px.exchange.advanceBars(2);
    await syncOpenOrders(t.db, broker);
    expect(await broker.listPositions()).toEqual([]);
    expect(await loadPositions(t.db)).toEqual([]);
    const after = await broker.getOrderByClientId(intent.clientOrderId);
    const stopLeg = after?.legs.find((l) => l.type === 'stop');
    const targetLeg = after?.legs.find((l) => l.type === 'limit');
    expect(stopLeg).toMatchObject({ status: 'filled', filledQty: 10, filledAvgPrice: 97 });
    expect(targetLeg?.status).toBe('canceled');

    // Stored: the intent, three orders (parent + two legs), two fills, and the audit trail.
    const intentRow = await t.db.query('SELECT status FROM order_intents WHERE client_order_id = $1', [intent.clientOrderId]);
    expect(intentRow.rows[0]).toEqual({ status: 'filled' });
    const orders = await t.db.query('SELECT status, parent_id IS NULL AS parent FROM orders ORDER BY parent DESC, status');
    expect(orders.rows).toEqual([
      { status: 'filled', parent: true },
      { status: 'canceled', parent: false },
      { status: 'filled', parent: false },
    ]);
    const fills = await t.db.query('SELECT side, qty, price FROM fills ORDER BY filled_at');
    expect(fills.rows).toEqual([
      { side: 'buy', qty: 10, price: 100.2 },
      { side: 'sell', qty: 10, price: 97 },
    ]);
    const kinds = (await t.db.query(`SELECT kind FROM audit_events ORDER BY id`)).rows.map((r) => z.object({ kind: z.string() }).parse(r).kind);
    expect(kinds).toEqual(expect.arrayContaining(['risk.decided', 'intent.stored', 'order.post', 'order.accepted', 'fill.recorded', 'order.filled']));
    const account = await broker.getAccount();
    expect(account.cash).toBeCloseTo(100_000 - 10 * 100.2 + 10 * 97, 6);
  });
});
