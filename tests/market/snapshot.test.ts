import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/errors.ts';
import { ingestPriceCsv } from '../../market/csv.ts';
import { averageTrueRange, marketSnapshot } from '../../market/snapshot.ts';
import type { Bar } from '../../market/bars.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';

const PRICES = path.join(import.meta.dirname, '../../data/samples/prices');
const bar = (close: number, hl?: [number, number]): Bar => ({
  ticker: 'AA',
  timeframe: '1Day',
  ts: '2000-01-03T21:00:00.000Z',
  open: null,
  high: hl?.[0] ?? null,
  low: hl?.[1] ?? null,
  close,
  volume: null,
  source: 't',
});

describe('average true range', () => {
  it('uses the close-to-close move as the true range when only closes exist', () => {
    const closes = [10, 11, 10, 12, 11, 13, 12, 14, 13, 15, 14, 16, 15, 17, 16];
    expect(averageTrueRange(closes.map((c) => bar(c)))).toBeCloseTo((1 + 1 + 2 + 1 + 2 + 1 + 2 + 1 + 2 + 1 + 2 + 1 + 2 + 1) / 14, 12);
  });

  it('uses high, low and the previous close when they exist', () => {
    const bars = Array.from({ length: 15 }, (_, i) => bar(100, [102 + (i % 2), 99]));
    expect(averageTrueRange(bars)).toBeCloseTo((7 * 4 + 7 * 3) / 14, 12);
    expect(averageTrueRange(bars.slice(0, 14))).toBeNull();
  });
});

describe.each(BACKENDS)('market snapshot on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it.skipIf(!available)('builds a point-in-time snapshot from real OHLCV bars with sector and market hours', async () => {
    t = await open();
    await ingestPriceCsv(t.db, path.join(PRICES, 'msft.csv'), { ticker: 'MSFT' });
    const settings = { market: { timezone: 'America/New_York', universe: [], sectors: { MSFT: 'Technology' }, maxBarAgeDays: 5, alpacaDataUrl: null } };
    const s = await marketSnapshot(t.db, 'MSFT', '2001-09-10T15:00:00Z', settings);
    // 11:00 New York on 2001-09-10: the last bar is the 7th's close (no peeking at the 10th's).
    expect(s).toMatchObject({ ticker: 'MSFT', lastPrice: 55.4, sector: 'Technology', marketOpen: true });
    expect(s.atr).toBeGreaterThan(0);
    expect(s.avgDollarVolume).toBeGreaterThan(1e8);
    const closed = await marketSnapshot(t.db, 'MSFT', '2001-09-12T15:00:00Z', settings);
    expect(closed.marketOpen).toBe(false);
    await expect(marketSnapshot(t.db, 'MSFT', '1999-01-01T00:00:00Z', settings)).rejects.toSatisfy((e: unknown) => QuorumError.is(e, 'NOT_FOUND'));
  });
});
