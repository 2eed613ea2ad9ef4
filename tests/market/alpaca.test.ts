import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { barsAsOf } from '../../market/bars.ts';
import { createAlpacaDataClient, fetchAlpacaCalendar, ingestAlpacaBars } from '../../market/alpaca.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';

/** A tiny server speaking Alpaca's data API (/v2/stocks/bars, paginated) and /v2/calendar. */
const BARS: Record<string, Array<{ t: string; o: number; h: number; l: number; c: number; v: number }>> = {
  MSFT: [
    { t: '2024-01-02T05:00:00Z', o: 373.86, h: 375.9, l: 366.77, c: 370.87, v: 25258600 },
    { t: '2024-01-03T05:00:00Z', o: 369.01, h: 373.26, l: 368.51, c: 370.6, v: 23083500 },
    { t: '2024-01-04T05:00:00Z', o: 370.67, h: 373.1, l: 367.17, c: 367.94, v: 20901500 },
  ],
  AAPL: [
    { t: '2024-01-02T05:00:00Z', o: 187.15, h: 188.44, l: 183.89, c: 185.64, v: 82488700 },
    { t: '2024-01-03T05:00:00Z', o: 184.22, h: 185.88, l: 183.43, c: 184.25, v: 58414500 },
  ],
};
const PAGE_SIZE = 2;
const requests: Array<{ path: string; query: URLSearchParams; keyId: string | undefined }> = [];

function handle(req: IncomingMessage): { status: number; body: unknown } {
  const url = new URL(req.url ?? '/', 'http://localhost');
  requests.push({ path: url.pathname, query: url.searchParams, keyId: req.headers['apca-api-key-id']?.toString() });
  if (url.pathname === '/v2/stocks/bars') {
    const symbols = (url.searchParams.get('symbols') ?? '').split(',');
    const flat = symbols.flatMap((s) => (BARS[s] ?? []).map((b) => ({ s, b })));
    const offset = Number(url.searchParams.get('page_token') ?? '0');
    const page = flat.slice(offset, offset + PAGE_SIZE);
    const bars: Record<string, unknown[]> = {};
    for (const { s, b } of page) (bars[s] ??= []).push(b);
    const next = offset + PAGE_SIZE < flat.length ? String(offset + PAGE_SIZE) : null;
    return { status: 200, body: { bars, next_page_token: next } };
  }
  if (url.pathname === '/v2/calendar') {
    return {
      status: 200,
      body: [
        { date: '2024-07-01', open: '09:30', close: '16:00', session_open: '0400', session_close: '2000', settlement_date: '2024-07-02' },
        { date: '2024-07-03', open: '09:30', close: '13:00', session_open: '0400', session_close: '1700', settlement_date: '2024-07-05' },
      ],
    };
  }
  return { status: 404, body: { message: 'not found' } };
}

let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const { status, body } = handle(req);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const client = () => createAlpacaDataClient({ keyId: 'test-key', secret: 'test-secret', baseUrls: { data: base, trading: base } });

describe.each(BACKENDS)('Alpaca bars import on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it.skipIf(!available)('follows next_page_token through every page and stores bars at the session close', async () => {
    t = await open();
    requests.length = 0;
    const r = await ingestAlpacaBars(t.db, client(), ['MSFT', 'AAPL'], '2024-01-02', '2024-01-04');
    expect(r.perTicker).toEqual({ MSFT: 3, AAPL: 2 });
    const barRequests = requests.filter((q) => q.path === '/v2/stocks/bars');
    expect(barRequests.length).toBe(3);
    expect(barRequests.map((q) => q.query.get('page_token'))).toEqual([null, '2', '4']);
    expect(barRequests[0]?.query.get('timeframe')).toBe('1Day');
    expect(barRequests[0]?.keyId).toBe('test-key');
    const msft = await barsAsOf(t.db, { ticker: 'MSFT', asOf: '2024-01-03T21:00:00Z' });
    expect(msft.map((b) => b.ts)).toEqual(['2024-01-02T21:00:00.000Z', '2024-01-03T21:00:00.000Z']);
    expect(msft[1]).toMatchObject({ open: 369.01, high: 373.26, low: 368.51, close: 370.6, volume: 23083500, source: 'alpaca' });
  });
});

describe('Alpaca calendar', () => {
  it('turns /v2/calendar into sessions, closing days Alpaca does not list', async () => {
    const cal = await fetchAlpacaCalendar(client(), '2024-07-01', '2024-07-03');
    expect(cal.source).toBe('alpaca');
    expect(cal.session('2024-07-03')).toEqual({ date: '2024-07-03', open: '2024-07-03T13:30:00.000Z', close: '2024-07-03T17:00:00.000Z', earlyClose: true });
    expect(cal.isTradingDay('2024-07-02')).toBe(false);
    expect(cal.isMarketOpen('2024-07-01T15:00:00Z')).toBe(true);
  });
});
