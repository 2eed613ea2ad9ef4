/**
 * The paper exchange's order round trip through the real Alpaca SDK over localhost HTTP:
 * POST /v2/orders (a market order, filled at once in "immediate" mode) and the lookup by
 * client_order_id, on the embedded PGlite database. Reports p50 and p99.
 */
import { performance } from 'node:perf_hooks';
import { openPglite, migrate } from '../db/index.ts';
import { upsertBars } from '../market/index.ts';
import { AlpacaBroker, startPaperExchange } from '../execution/index.ts';

const WARMUP = 20;
const ORDERS = 300;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export default async function bench(): Promise<Array<{ name: string; value: number; unit: string; notes?: string }>> {
  const db = await openPglite(null);
  await migrate(db);
  const days = Array.from({ length: 30 }, (_, i) => new Date(Date.UTC(2020, 0, 1 + i, 21)).toISOString());
  await upsertBars(
    db,
    days.map((ts, i) => ({ ticker: 'MSFT', timeframe: '1Day', ts, open: 100 + i, high: 101 + i, low: 99 + i, close: 100 + i, volume: 1e6, source: 'bench' })),
  );
  const px = await startPaperExchange({
    db,
    settings: { port: 0, slippageBps: 5, commissionPerShare: 0.005, commissionBps: 0, startingCash: 10_000_000, fillMode: 'immediate' },
    port: 0,
    initialNow: days[days.length - 1],
  });
  const broker = new AlpacaBroker({ mode: 'paper', liveTradingAllowed: false, keyId: 'k', secret: 's', baseUrl: px.url, timeoutMs: 10_000 });
  const post: number[] = [];
  const lookup: number[] = [];
  try {
    for (let i = 0; i < WARMUP + ORDERS; i++) {
      const clientOrderId = `bench-${i}`;
      const t0 = performance.now();
      await broker.submitOrder({
        clientOrderId,
        symbol: 'MSFT',
        side: 'buy',
        qty: 1,
        type: 'market',
        limitPrice: null,
        timeInForce: 'day',
        orderClass: 'simple',
        takeProfit: null,
        stopLoss: null,
      });
      const t1 = performance.now();
      await broker.getOrderByClientId(clientOrderId);
      const t2 = performance.now();
      if (i >= WARMUP) {
        post.push(t1 - t0);
        lookup.push(t2 - t1);
      }
    }
  } finally {
    await px.close();
    await db.close();
  }
  post.sort((a, b) => a - b);
  lookup.sort((a, b) => a - b);
  const notes = `${ORDERS} market orders via @alpacahq/alpaca-trade-api over localhost HTTP, PGlite, immediate fills`;
  return [
    { name: 'paper exchange: POST /v2/orders round trip p50', value: percentile(post, 50), unit: 'ms', notes },
    { name: 'paper exchange: POST /v2/orders round trip p99', value: percentile(post, 99), unit: 'ms', notes },
    { name: 'paper exchange: order lookup by client_order_id p50', value: percentile(lookup, 50), unit: 'ms', notes },
    { name: 'paper exchange: order lookup by client_order_id p99', value: percentile(lookup, 99), unit: 'ms', notes },
  ];
}
