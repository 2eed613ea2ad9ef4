/** Real bars from the bundled Dow 30 sample, cut to a few tickers and dates so tests stay fast. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Queryable } from '../../db/index.ts';
import { upsertBars, type Bar } from '../../market/bars.ts';
import { parsePriceCsv } from '../../market/csv.ts';

const FILE = path.join(import.meta.dirname, '../../data/samples/prices/DowJones30.csv');
let cache: Bar[] | null = null;

export function dowBars(tickers: readonly string[], from = '1990-01-01', to = '2001-12-31'): Bar[] {
  cache ??= parsePriceCsv(readFileSync(FILE, 'utf8'), FILE).bars;
  return cache.filter((b) => tickers.includes(b.ticker) && b.ts.slice(0, 10) >= from && b.ts.slice(0, 10) <= to);
}

export async function loadDow(q: Queryable, tickers: readonly string[], from?: string, to?: string): Promise<Bar[]> {
  const bars = dowBars(tickers, from, to);
  await upsertBars(q, bars);
  return bars;
}
