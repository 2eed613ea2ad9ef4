/**
 * Dates as a user gives them to `quorum demo`, run as a user runs it (`node bin/quorum.js` in its
 * own process) on one fresh data directory shared by the tests: dates the stored bars cannot serve
 * exit 2 naming the date and the usable range, and a demo dated before one that already ran fills
 * at its own next bar, as `quorum orders --json` and `quorum audit --json` show.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../config/index.ts';
import { parseJson } from '../../contracts/index.ts';

const BIN = path.join(PROJECT_ROOT, 'bin/quorum.js');
const RANGE =
  'available dates: 1991-03-14..2001-01-02 (from the first stored bar 1990-12-31, 51 bars before the day for the feature warm-up; the last stored bar is 2001-01-02)';
const SLIPPAGE = 5 / 10_000;

let dataDir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function quorum(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, QUORUM_DATA_DIR: dataDir, QUORUM_MODELS__LLM__BACKEND: 'rules', QUORUM_SETTINGS__LOGGING__LEVEL: 'warn' };
  delete env.DATABASE_URL;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: PROJECT_ROOT, env, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error && typeof error.code === 'number' ? error.code : error ? null : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function json(run: Run): unknown {
  expect(run.code, run.stderr).toBe(0);
  const parsed = parseJson(run.stdout);
  if (!parsed.ok) throw new Error(`${parsed.error}: ${run.stdout.slice(0, 200)}`);
  return parsed.value;
}

/** The bundled Dow 30 close of `ticker` on `date`. */
function closeOn(ticker: string, date: string): number {
  const lines = readFileSync(path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv'), 'utf8').split('\n');
  const header = (lines[0] ?? '').split(',').map((h) => h.replaceAll('"', ''));
  const row = lines.find((l) => l.startsWith(`"${date}"`))?.split(',');
  const value = Number(row?.[header.indexOf(ticker)]);
  if (!Number.isFinite(value)) throw new Error(`no close of ${ticker} on ${date}`);
  return value;
}

const OrderLine = z
  .object({
    client_order_id: z.string(),
    ticker: z.string(),
    side: z.enum(['buy', 'sell']),
    filled_qty: z.number().nullable(),
    filled_avg_price: z.number().nullable(),
  })
  .passthrough();
type OrderLine = z.infer<typeof OrderLine>;
/** Whether an order filled at `date`'s close plus slippage against it. */
function priceMatches(o: OrderLine, date: string): boolean {
  const close = closeOn(o.ticker, date);
  const expected = o.side === 'buy' ? close * (1 + SLIPPAGE) : close * (1 - SLIPPAGE);
  return Math.abs((o.filled_avg_price ?? Number.NaN) - expected) < 1e-6;
}
const Leg = z.object({ status: z.string(), filledAt: z.string().nullable() }).passthrough();
const Chain = z
  .object({
    order: z.object({ submitted_at: z.string(), raw: z.object({ legs: z.array(Leg).nullable() }).passthrough() }).passthrough(),
    fills: z.array(z.object({ price: z.number(), filled_at: z.string(), side: z.enum(['buy', 'sell']) }).passthrough()),
    proposal: z.object({ as_of: z.string() }).passthrough(),
  })
  .passthrough();

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'quorum-dates-'));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('quorum demo --date, in its own process', () => {
  it('exits 2 for a date after the data, a Saturday and a date before the warm-up, naming the date and the range', async () => {
    const future = await quorum(['demo', '--date', '2030-01-01']);
    expect(future.code).toBe(2);
    expect(future.stderr).toContain(`quorum: INPUT_INVALID: --date 2030-01-01 is after the last stored bar 2001-01-02; ${RANGE}`);

    const saturday = await quorum(['demo', '--date', '1999-06-05']);
    expect(saturday.code).toBe(2);
    expect(saturday.stderr).toContain(
      `quorum: INPUT_INVALID: --date 1999-06-05 is not a trading day (a Saturday): the previous trading day is 1999-06-04, the next 1999-06-07; ${RANGE}`,
    );

    const early = await quorum(['demo', '--date', '1990-01-01']);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain(`quorum: INPUT_INVALID: --date 1990-01-01 is before the first usable date 1991-03-14; ${RANGE}`);

    // Refused before any session: nothing was run or ordered.
    expect(json(await quorum(['orders', '--json']))).toEqual([]);
  }, 240_000);

  it('fills a demo dated before one that already ran at its own next bar, and nothing of it after that bar', async () => {
    expect((await quorum(['demo', '--date', '1999-06-01'])).code).toBe(0);
    const backdated = await quorum(['demo', '--date', '1998-10-01']);
    expect(backdated.code, backdated.stderr).toBe(0);

    const orders = z.array(OrderLine).parse(json(await quorum(['orders', '--json'])));
    const filled = orders.filter((x) => (x.filled_qty ?? 0) > 0);
    // Each demo runs at 12:30 New York; its next bar is that day's 16:00 close.
    const demos = [
      { date: '1998-10-01', asOf: '1998-10-01T16:30:00.000Z', nextBar: '1998-10-01T20:00:00.000Z' },
      { date: '1999-06-01', asOf: '1999-06-01T16:30:00.000Z', nextBar: '1999-06-01T20:00:00.000Z' },
    ];
    const sessions = new Map<string, number>();
    for (const demo of demos) {
      // A market order on close-only bars fills at its demo's close, plus slippage against the trade.
      const own = filled.filter((o) => priceMatches(o, demo.date));
      sessions.set(demo.date, own.length);
      // One audit chain per demo (a process each): the proposal's time, the order's, its fills and its legs.
      const first = own[0];
      if (!first) continue;
      const chain = Chain.parse(json(await quorum(['audit', first.client_order_id, '--json'])));
      expect(chain.proposal.as_of).toBe(demo.asOf);
      expect(chain.order.submitted_at).toBe(demo.asOf);
      expect(chain.fills.length).toBeGreaterThan(0);
      for (const f of chain.fills) expect(f.filled_at).toBe(demo.nextBar);
      // Bracket exits synced in the same session: none filled after its next bar.
      for (const leg of chain.order.raw.legs ?? []) if (leg.filledAt !== null) expect(leg.filledAt <= demo.nextBar).toBe(true);
    }
    // Every filled order belongs to one of the two demos by its fill price.
    expect((sessions.get('1998-10-01') ?? 0) + (sessions.get('1999-06-01') ?? 0)).toBe(filled.length);
    expect(sessions.get('1998-10-01') ?? 0).toBeGreaterThan(0);
    expect(sessions.get('1999-06-01') ?? 0).toBeGreaterThan(0);
  }, 300_000);
});
