import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/errors.ts';
import { barCoverage, barsAsOf, lastBar, upsertBars, type Bar } from '../../market/bars.ts';
import { ingestPriceCsv, parsePriceCsv } from '../../market/csv.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';

const PRICES = path.join(import.meta.dirname, '../../data/samples/prices');
const dir = mkdtempSync(path.join(tmpdir(), 'quorum-csv-'));
function fixture(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function expectInputError(fn: () => unknown, line: number, pattern: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(QuorumError.is(error, 'INPUT_INVALID')).toBe(true);
    const e = error as QuorumError;
    expect(e.details.line).toBe(line);
    expect(e.message).toMatch(pattern);
    return;
  }
  throw new Error('expected an INPUT_INVALID error');
}

const WIDE = '"date","AA","MSFT"\n"1999-06-01",10,20\n"1999-06-02",11,NA\n"1999-06-03",12,22\n';

describe('price CSV parsing', () => {
  it('reads the wide shape: one close column per ticker, NA cells skipped', () => {
    const p = parsePriceCsv(WIDE, 'wide.csv');
    expect(p.shape).toBe('wide');
    expect(p.tickers).toEqual(['AA', 'MSFT']);
    expect(p.bars).toHaveLength(5);
    expect(p.bars[0]).toMatchObject({ ticker: 'AA', ts: '1999-06-01T20:00:00.000Z', close: 10, open: null, volume: null, source: 'csv:wide.csv' });
  });

  it('reads the per-ticker OHLCV shape with --ticker, ignoring adjclose', () => {
    const text = 'date,open,high,low,close,adjclose,volume\n2000-01-03,10,12,9,11,11,1000\n2000-01-04,11,13,10,12,12,2000\n';
    const p = parsePriceCsv(text, 'spx.csv', { ticker: 'SPX' });
    expect(p.shape).toBe('ohlcv');
    expect(p.bars[1]).toMatchObject({ ticker: 'SPX', open: 11, high: 13, low: 10, close: 12, volume: 2000, ts: '2000-01-04T21:00:00.000Z' });
  });

  it('reads the long shape (date,ticker,OHLCV rows) with adj_close ignored, and names a bad row by line and column', () => {
    const text =
      'date,ticker,open,high,low,close,adj_close,volume\n2014-01-02,AAPL,79.4,79.6,78.9,79.0,72.0,58671200\n2014-01-02,msft,37.35,37.4,37.1,37.16,33.5,30632200\n2014-01-03,AAPL,78.98,79.1,77.2,77.28,70.4,98116900\n';
    const p = parsePriceCsv(text, 'prices.csv');
    expect(p).toMatchObject({ shape: 'long', tickers: ['AAPL', 'MSFT'], firstDate: '2014-01-02', lastDate: '2014-01-03' });
    expect(p.bars[1]).toMatchObject({ ticker: 'MSFT', open: 37.35, close: 37.16, volume: 30632200, ts: '2014-01-02T21:00:00.000Z' });
    expectInputError(() => parsePriceCsv(`${text}2014-01-03,AAPL,1,1,1,1,1,1\n`, 'p.csv'), 5, /column "date": duplicate date 2014-01-03 for AAPL/);
    expectInputError(() => parsePriceCsv(`${text}2014-01-01,MSFT,1,1,1,1,1,1\n`, 'p.csv'), 5, /before MSFT's previous 2014-01-02/);
    expectInputError(() => parsePriceCsv(`${text}2014-01-06,AAPL,1,1,1,x,1,1\n`, 'p.csv'), 5, /column "close": expected a number/);
    expectInputError(() => parsePriceCsv(`${text}2014-01-06,A4PL!,1,1,1,1,1,1\n`, 'p.csv'), 5, /column "ticker"/);
    expectInputError(() => parsePriceCsv(text, 'p.csv', { ticker: 'AAPL' }), 1, /takes no --ticker/);
  });

  it('refuses an OHLCV file without a ticker, and a wide file with one', () => {
    expectInputError(() => parsePriceCsv('date,open,close\n2000-01-03,1,2\n', 'x.csv'), 1, /--ticker/);
    expectInputError(() => parsePriceCsv(WIDE, 'w.csv', { ticker: 'AA' }), 1, /no --ticker/);
  });

  it('names a missing close column on line 1', () => {
    expectInputError(() => parsePriceCsv('date,open,high,low,volume\n2000-01-03,1,2,1,5\n', 'x.csv', { ticker: 'MSFT' }), 1, /missing column "close"/);
    expectInputError(() => parsePriceCsv('day,AA\n2000-01-03,1\n', 'x.csv'), 1, /missing column "date"/);
  });

  it('names the line of a row with a missing field', () => {
    expectInputError(() => parsePriceCsv('date,AA,MSFT\n2000-01-03,1,2\n2000-01-04,1\n', 'x.csv'), 3, /expected 3 fields, got 2/);
  });

  it('names the line and column of a non-numeric price', () => {
    expectInputError(() => parsePriceCsv('date,AA,MSFT\n2000-01-03,1,2\n2000-01-04,1,abc\n', 'x.csv'), 3, /column "MSFT".*"abc"/);
    expectInputError(() => parsePriceCsv('date,Open,High,Low,Close,Volume\n2000-01-03,1,2,1,x1,5\n', 'm.csv', { ticker: 'MSFT' }), 2, /column "Close"/);
  });

  it('names the line of a duplicate or an out-of-order date', () => {
    expectInputError(() => parsePriceCsv('date,AA\n2000-01-03,1\n2000-01-04,2\n2000-01-04,3\n', 'x.csv'), 4, /duplicate date 2000-01-04/);
    expectInputError(() => parsePriceCsv('date,AA\n2000-01-03,1\n2000-01-05,2\n2000-01-04,3\n', 'x.csv'), 4, /before the previous line/);
  });

  it('rejects a negative price and a high below the low, naming the line', () => {
    expectInputError(() => parsePriceCsv('date,AA\n2000-01-03,-1\n', 'x.csv'), 2, /column "AA"/);
    expectInputError(() => parsePriceCsv('date,open,high,low,close,volume\n2000-01-03,1,1,2,1.5,5\n', 'x.csv', { ticker: 'AA' }), 2, /high 1 below low 2/);
  });
});

describe.each(BACKENDS)('price CSV import on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it.skipIf(!available)('imports the real msft.csv as OHLCV bars readable point in time', async () => {
    t = await open();
    const r = await ingestPriceCsv(t.db, path.join(PRICES, 'msft.csv'), { ticker: 'MSFT' });
    expect(r).toMatchObject({ shape: 'ohlcv', tickers: ['MSFT'], bars: 249, firstDate: '2000-09-27', lastDate: '2001-09-27' });
    const last = await lastBar(t.db, 'MSFT', '2001-09-10T23:59:00Z');
    expect(last?.ts).toBe('2001-09-10T20:00:00.000Z');
    expect(last?.volume).toBeGreaterThan(0);
    // The exchange was closed 2001-09-11..14: the next bar after the 10th is the 17th.
    const after = await barsAsOf(t.db, { ticker: 'MSFT', asOf: '2001-09-17T20:00:00Z', limit: 2 });
    expect(after.map((b) => b.ts)).toEqual(['2001-09-10T20:00:00.000Z', '2001-09-17T20:00:00.000Z']);
  });

  it.skipIf(!available)(
    'barsAsOf and lastBar return stored bars exactly: every float digit, nulls, milliseconds, times before 1970, oldest first',
    async () => {
      t = await open();
      const bars: Bar[] = [
        {
          ticker: 'ZZ',
          timeframe: '1Day',
          ts: '1969-12-31T23:59:59.999Z',
          open: null,
          high: null,
          low: null,
          close: 0.1 + 0.2,
          volume: null,
          source: 'test:a',
        },
        {
          ticker: 'ZZ',
          timeframe: '1Day',
          ts: '1999-01-04T21:00:00.123Z',
          open: 123456789.12345679,
          high: 123456790.5,
          low: 1e-7,
          close: 5e-324,
          volume: 0,
          source: 'test:b',
        },
        {
          ticker: 'ZZ',
          timeframe: '1Day',
          ts: '2001-06-01T20:00:00.000Z',
          open: 1 / 3,
          high: 2 / 3,
          low: 0.25,
          close: 1.7976931348623157e308,
          volume: 12345678901234,
          source: 'test:"quoted" \\ é',
        },
        { ticker: 'ZZ', timeframe: '1Day', ts: '2001-06-02T20:00:00.000Z', open: 1, high: 1, low: 1, close: 1, volume: 1, source: 'test:later' },
        { ticker: 'ZZ', timeframe: '1Hour', ts: '2001-06-01T19:00:00.000Z', open: 2, high: 2, low: 2, close: 2, volume: 2, source: 'test:hourly' },
      ];
      await upsertBars(t.db, bars);
      const read = await barsAsOf(t.db, { ticker: 'ZZ', asOf: '2001-06-01T20:00:00Z' });
      expect(read).toEqual(bars.slice(0, 3));
      expect(await barsAsOf(t.db, { ticker: 'ZZ', asOf: '2001-06-02T20:00:00Z', limit: 2 })).toEqual(bars.slice(2, 4));
      expect(await barsAsOf(t.db, { ticker: 'ZZ', timeframe: '1Hour', asOf: '2001-06-02T20:00:00Z' })).toEqual([bars[4]]);
      expect(await barsAsOf(t.db, { ticker: 'ZZ', asOf: '1969-12-31T23:59:59.998Z' })).toEqual([]);
      expect(await barsAsOf(t.db, { ticker: 'NONE', asOf: '2001-06-02T20:00:00Z' })).toEqual([]);
      expect(await lastBar(t.db, 'ZZ', '2001-06-01T20:00:00Z')).toEqual(bars[2]);
      expect(await lastBar(t.db, 'ZZ', '1969-12-31T23:59:59.998Z')).toBeNull();
    },
  );

  it.skipIf(!available)('stores nothing when any line of a file is bad', async () => {
    t = await open();
    const good = Array.from({ length: 700 }, (_, i) => `${new Date(Date.UTC(1990, 0, 1) + i * 86_400_000).toISOString().slice(0, 10)},${10 + i}`);
    const file = fixture('bad-late.csv', `date,AA\n${good.join('\n')}\n1992-01-01,oops\n`);
    await expect(ingestPriceCsv(t.db, file)).rejects.toThrow(/bad-late\.csv:702: column "AA"/);
    expect(await barCoverage(t.db)).toEqual([]);
  });

  it.skipIf(!available)('re-importing the same file replaces rows instead of duplicating them', async () => {
    t = await open();
    const file = fixture('wide.csv', WIDE);
    await ingestPriceCsv(t.db, file);
    await ingestPriceCsv(t.db, file);
    const cov = await barCoverage(t.db);
    expect(cov.map((c) => [c.ticker, c.count])).toEqual([
      ['AA', 3],
      ['MSFT', 2],
    ]);
  });
});
