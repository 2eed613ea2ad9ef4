import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { QuorumError } from '../../contracts/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import {
  AlpacaBroker,
  getIntent,
  getTradingState,
  intentFromDecision,
  reconcile,
  resolveIntent,
  setTradingState,
  startPaperExchange,
  submitIntent,
  type ExchangeFaults,
  type RunningPaperExchange,
} from '../../execution/index.ts';
import { barsFromCloses, decision, exchangeSettings, loadBars, seedDecision } from './support.ts';

class SimulatedCrash extends Error {}

const CLOSES = Array.from({ length: 40 }, (_, i) => 100 + (i % 3));
const NOW_INDEX = 35;

describe.each(BACKENDS)('crashes and broker faults ($name)', ({ open, available }) => {
  let t: TestDb;
  let now: string;
  /** Faults the running exchange applies; tests swap them in and out. */
  const faults: { current: ExchangeFaults } = { current: {} };
  let px: RunningPaperExchange;

  const start = async (): Promise<RunningPaperExchange> =>
    startPaperExchange({
      db: t.db,
      settings: exchangeSettings(),
      port: 0,
      initialNow: now,
      faults: { before: (req) => faults.current.before?.(req), after: (req) => faults.current.after?.(req) },
    });
  const brokerFor = (url: string, timeoutMs = 5_000): AlpacaBroker =>
    new AlpacaBroker({ mode: 'paper', liveTradingAllowed: false, keyId: 'k', secret: 's', baseUrl: url, timeoutMs });
  const ordersOnExchange = async (clientOrderId: string): Promise<number> => {
    const res = await t.db.query('SELECT count(*)::int AS n FROM paper_orders WHERE client_order_id = $1', [clientOrderId]);
    return z.object({ n: z.coerce.number() }).parse(res.rows[0]).n;
  };
  const intentFor = async (id: string, ticker = 'MSFT') => {
    const d = decision({ id, ticker, decidedAt: now });
    await seedDecision(t.db, d);
    return intentFromDecision(d, 'session-crash');
  };

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    const bars = [...barsFromCloses('MSFT', '2020-01-01', CLOSES), ...barsFromCloses('IBM', '2020-01-01', CLOSES)];
    await loadBars(t.db, bars);
    now = bars[NOW_INDEX]?.ts ?? '';
    px = await start();
  });
  afterAll(async () => {
    if (!available) return;
    await px.close();
    await t.cleanup();
  });

  it.skipIf(!available)('(a) killed after the intent is stored and before the POST: after restart the exchange holds exactly one order', async () => {
    const intent = await intentFor('rd-crash-a');
    await expect(
      submitIntent(t.db, brokerFor(px.url), intent, {
        afterIntentStored: () => {
          throw new SimulatedCrash('killed before the POST');
        },
      }),
    ).rejects.toBeInstanceOf(SimulatedCrash);
    expect((await getIntent(t.db, intent.clientOrderId))?.status).toBe('pending');
    expect(await ordersOnExchange(intent.clientOrderId)).toBe(0);

    // Restart: a new exchange process on the same state, a new client, startup reconciliation.
    await px.close();
    px = await start();
    const broker = brokerFor(px.url);
    const report = await reconcile(t.db, broker);
    expect(report).toMatchObject({ ok: true, resolvedIntents: 1 });
    // The session runs the same decision again: it is looked up, not posted.
    const again = await submitIntent(t.db, broker, intent);
    expect(again).toMatchObject({ status: 'accepted', alreadyExisted: true });
    expect(await ordersOnExchange(intent.clientOrderId)).toBe(1);
    const all = await broker.listOrders({ status: 'all', limit: 500 });
    expect(all.filter((o) => o.clientOrderId === intent.clientOrderId)).toHaveLength(1);
  });

  it.skipIf(!available)('(b) killed after the POST and before the reply is stored: after restart the exchange holds exactly one order', async () => {
    const intent = await intentFor('rd-crash-b');
    await expect(
      submitIntent(t.db, brokerFor(px.url), intent, {
        afterPostBeforeRecord: () => {
          throw new SimulatedCrash('killed before the reply was stored');
        },
      }),
    ).rejects.toBeInstanceOf(SimulatedCrash);
    expect((await getIntent(t.db, intent.clientOrderId))?.status).toBe('submitted');
    expect(await ordersOnExchange(intent.clientOrderId)).toBe(1);

    await px.close();
    px = await start();
    const broker = brokerFor(px.url);
    const report = await reconcile(t.db, broker);
    expect(report).toMatchObject({ ok: true, resolvedIntents: 1 });
    expect((await getIntent(t.db, intent.clientOrderId))?.status).toBe('accepted');
    const again = await submitIntent(t.db, broker, intent);
    expect(again.alreadyExisted).toBe(true);
    expect(await ordersOnExchange(intent.clientOrderId)).toBe(1);
    const kinds = await t.db.query(`SELECT kind FROM audit_events WHERE payload->>'clientOrderId' = $1 ORDER BY id`, [intent.clientOrderId]);
    expect(kinds.rows.map((r) => z.object({ kind: z.string() }).parse(r).kind)).toContain('order.lookup_found');
  });

  it.skipIf(!available)('counts a duplicate client_order_id rejection as "already exists" and stores the existing order', async () => {
    const intent = await intentFor('rd-dup');
    const broker = brokerFor(px.url);
    // Someone (a previous life of this process) already placed it at the broker.
    await broker.submitOrder({
      clientOrderId: intent.clientOrderId,
      symbol: intent.ticker,
      side: intent.side,
      qty: intent.qty,
      type: 'market',
      limitPrice: null,
      timeInForce: intent.timeInForce,
      orderClass: intent.orderClass,
      takeProfit: intent.takeProfit,
      stopLoss: intent.stopLoss,
    });
    const outcome = await submitIntent(t.db, broker, intent);
    expect(outcome).toMatchObject({ status: 'accepted', alreadyExisted: true });
    expect(await ordersOnExchange(intent.clientOrderId)).toBe(1);
    const dup = await t.db.query(`SELECT 1 FROM audit_events WHERE kind = 'order.duplicate' AND payload->>'clientOrderId' = $1`, [intent.clientOrderId]);
    expect(dup.rows).toHaveLength(1);
  });

  it.skipIf(!available)('marks a POST that times out UNKNOWN, then resolves it by lookup without a second order', async () => {
    const intent = await intentFor('rd-timeout', 'IBM');
    // The exchange takes the order, then answers too late for the client's 300 ms timeout.
    faults.current = {
      after: async (req) => {
        if (req.method === 'POST' && req.path === '/v2/orders') await new Promise((r) => setTimeout(r, 1_000));
      },
    };
    try {
      const outcome = await submitIntent(t.db, brokerFor(px.url, 300), intent);
      expect(outcome.status).toBe('unknown');
      expect(outcome.error).toMatch(/outcome unknown/);
    } finally {
      faults.current = {};
    }
    expect((await getIntent(t.db, intent.clientOrderId))?.status).toBe('unknown');
    const stored = await getIntent(t.db, intent.clientOrderId);
    if (!stored) throw new Error('intent missing');
    const resolved = await resolveIntent(t.db, brokerFor(px.url), stored);
    expect(resolved).toMatchObject({ status: 'accepted', alreadyExisted: true });
    expect(await ordersOnExchange(intent.clientOrderId)).toBe(1);
  });

  it.skipIf(!available)('halts trading when the exchange answers 500 during reconciliation, refuses new orders, and a clean run lifts that halt', async () => {
    faults.current = {
      before: (req) =>
        req.method === 'GET' && req.path.startsWith('/v2/orders')
          ? new Response(JSON.stringify({ code: 50000000, message: 'internal server error' }), { status: 500, headers: { 'content-type': 'application/json' } })
          : undefined,
    };
    const broker = brokerFor(px.url);
    try {
      const report = await reconcile(t.db, broker);
      expect(report.ok).toBe(false);
      expect(report.error).toMatch(/500/);
    } finally {
      faults.current = {};
    }
    const state = await getTradingState(t.db);
    expect(state.state).toBe('HALTED');
    expect(state.reason).toMatch(/^reconciliation failed/);
    const intent = await intentFor('rd-after-halt');
    const refused = await submitIntent(t.db, broker, intent).catch((e: unknown) => e);
    expect(QuorumError.is(refused, 'TRADING_HALTED')).toBe(true);
    expect(await getIntent(t.db, intent.clientOrderId)).toBeNull();
    expect(await ordersOnExchange(intent.clientOrderId)).toBe(0);

    const clean = await reconcile(t.db, broker);
    expect(clean.ok).toBe(true);
    expect((await getTradingState(t.db)).state).toBe('ACTIVE');
  });

  it.skipIf(!available)('does not lift a manual halt after a clean reconciliation', async () => {
    await setTradingState(t.db, 'HALTED', 'operator: news pending', 'test');
    const report = await reconcile(t.db, brokerFor(px.url));
    expect(report.ok).toBe(true);
    expect(await getTradingState(t.db)).toMatchObject({ state: 'HALTED', reason: 'operator: news pending' });
    await setTradingState(t.db, 'ACTIVE', 'operator: resume', 'test');
  });
});
