/**
 * The paper exchange's clock set per session (execution/paper-exchange startSession, driven over HTTP
 * as `quorum session run` does): a session dated before one that already ran is priced and filled at
 * its own next bar, and no fill recorded in a session is stamped after that bar, bracket exits included.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BACKENDS, type TestDb } from '../support/db.ts';
import {
  AlpacaBroker,
  httpExchangeClock,
  intentFromDecision,
  startPaperExchange,
  submitIntent,
  syncOpenOrders,
  type ExchangeClock,
  type RunningPaperExchange,
} from '../../execution/index.ts';
import type { Bar } from '../../market/index.ts';
import { barsFromCloses, decision, exchangeSettings, loadBars, seedDecision } from './support.ts';

// Flat at 100, except day 7 closes at 96: its low (95.5) goes through a stop at 97. Every day's low
// (99.5) is below 99.8, the stop of the later-dated order, which must never fill on a bar before it.
const CLOSES = Array.from({ length: 16 }, (_, i) => (i === 7 ? 96 : 100));
const LATER = 12;
const EARLIER = 5;
const AFTER = 9;

const FillRow = z.object({ id: z.string(), order_id: z.string(), price: z.number(), filled_at: z.coerce.date() });
type FillRow = z.infer<typeof FillRow>;

describe.each(BACKENDS)('a session clock on the paper exchange ($name)', ({ open, available }) => {
  let t: TestDb;
  let px: RunningPaperExchange;
  let broker: AlpacaBroker;
  let clock: ExchangeClock;
  let bars: Bar[];
  /** 11:00 New York on day i, before its close: when a session on that day runs. */
  const midday = (i: number): string => new Date(Date.parse(bars[i]?.ts ?? '') - 5 * 3_600_000).toISOString();
  const barTs = (i: number): string => bars[i]?.ts ?? '';

  async function fills(): Promise<FillRow[]> {
    return (await t.db.query('SELECT id, order_id, price, filled_at FROM fills ORDER BY filled_at, id')).rows.map((r) => FillRow.parse(r));
  }

  /** One session at day i: clock to its as-of, one bracket buy, one bar on, sync. Returns the fills it recorded. */
  async function session(i: number, name: string, stop: number): Promise<{ clientOrderId: string; recorded: FillRow[]; clockAt: string }> {
    const before = new Set((await fills()).map((f) => f.id));
    const clockAt = await clock.startSession(midday(i));
    const d = decision({ id: `rd-${name}`, proposalId: `prop-${name}`, verdictId: `v-${name}`, stop, target: 110, decidedAt: clockAt });
    await seedDecision(t.db, d);
    const intent = intentFromDecision(d, `ses-${name}`);
    expect((await submitIntent(t.db, broker, intent)).status).toBe('accepted');
    expect(await clock.advanceBars(1)).toBe(barTs(i));
    await syncOpenOrders(t.db, broker);
    return { clientOrderId: intent.clientOrderId, recorded: (await fills()).filter((f) => !before.has(f.id)), clockAt };
  }

  beforeEach(async () => {
    if (!available) return;
    t = await open();
    bars = barsFromCloses('MSFT', '2020-01-06', CLOSES);
    await loadBars(t.db, bars);
    px = await startPaperExchange({ db: t.db, settings: exchangeSettings(), port: 0, initialNow: midday(LATER) });
    broker = new AlpacaBroker({ mode: 'paper', liveTradingAllowed: false, keyId: 'k', secret: 's', baseUrl: px.url, timeoutMs: 5_000 });
    clock = httpExchangeClock(px.url);
  });

  afterEach(async () => {
    if (!available) return;
    await px.close();
    await t.cleanup();
  });

  it.skipIf(!available)('fills a session dated before an earlier-run later one at its own next bar, and never after it', async () => {
    const later = await session(LATER, 'later', 99.8);
    expect(later.recorded.map((f) => [f.price, f.filled_at.toISOString()])).toEqual([[100, barTs(LATER)]]);

    // The earlier date after the later one: the clock goes back, the order is priced and filled at day 5's bar.
    const earlier = await session(EARLIER, 'earlier', 97);
    expect(earlier.clockAt).toBe(midday(EARLIER));
    expect(earlier.recorded).toHaveLength(1);
    for (const f of earlier.recorded) expect(f.filled_at.toISOString() <= barTs(EARLIER)).toBe(true);
    expect(earlier.recorded[0]).toMatchObject({ price: bars[EARLIER]?.open, filled_at: new Date(barTs(EARLIER)) });
    const placed = await broker.getOrderByClientId(earlier.clientOrderId);
    expect(placed?.submittedAt).toBe(midday(EARLIER));
    // Its bracket legs work from after its fill; the later order's stop (99.8, above day 5's low) did not fill on a bar before it was placed.
    expect(placed?.legs.map((l) => l.status).sort()).toEqual(['new', 'new']);
    const laterOrder = await broker.getOrderByClientId(later.clientOrderId);
    expect(laterOrder?.legs.map((l) => [l.type, l.status, l.filledAt]).sort()).toEqual([
      ['limit', 'new', null],
      ['stop', 'new', null],
    ]);

    // A session after it, on the way forward: the earlier order's stop fills at day 7 (inside the move), still before this session's next bar.
    const after = await session(AFTER, 'after', 97);
    const stopLeg = (await broker.getOrderByClientId(earlier.clientOrderId))?.legs.find((l) => l.type === 'stop');
    expect(stopLeg).toMatchObject({ status: 'filled', filledAvgPrice: 97, filledAt: barTs(7) });
    expect(after.recorded.map((f) => [f.price, f.filled_at.toISOString()]).sort()).toEqual(
      [
        [97, barTs(7)],
        [100, barTs(AFTER)],
      ].sort(),
    );
    for (const f of after.recorded) expect(f.filled_at.toISOString() <= barTs(AFTER)).toBe(true);
    expect((await broker.getOrderByClientId(later.clientOrderId))?.legs.every((l) => l.filledAt === null)).toBe(true);
  });

  it.skipIf(!available)('moves back only when asked for a session: a plain clock move back is still refused', async () => {
    const post = (body: unknown): Promise<Response> =>
      fetch(`${px.url}/v1/sim/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ now: midday(EARLIER) })).status).toBe(422);
    expect(await px.exchange.now()).toBe(midday(LATER));
    const back = await post({ now: midday(EARLIER), session: true });
    expect(back.status).toBe(200);
    expect(await px.exchange.now()).toBe(midday(EARLIER));
    // Forward again for a session: the same as a plain move.
    expect(await clock.startSession(midday(AFTER))).toBe(midday(AFTER));
    expect(await px.exchange.now()).toBe(midday(AFTER));
  });
});
