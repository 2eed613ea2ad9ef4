/**
 * Fixtures for committee tests and benches: a stored proposal (with its feature snapshot), hand-made
 * bar series for the rules scenarios, the real MSFT sample bars, and stored news.
 */
import path from 'node:path';
import { Proposal } from '../../contracts/index.ts';
import { PROJECT_ROOT } from '../../config/index.ts';
import type { Db } from '../../db/index.ts';
import { ingestPriceCsv, upsertBars, type Bar } from '../../market/index.ts';
import { companyMatcher, storeNews, type Embedder } from '../../rag/index.ts';
import { mulberry32 as prng } from '../../contracts/random.ts';
import { storeOutsideProposal } from '../../ml/index.ts';

/** The real MSFT OHLCV sample (2000-09-27 .. 2001-09-27). */
export const MSFT_CSV = path.join(PROJECT_ROOT, 'data/samples/prices/msft.csv');

/** A proposal for `ticker` at `asOf`, valid against the contract. */
export function makeProposal(overrides: Partial<Proposal> = {}): Proposal {
  return Proposal.parse({
    id: 'prop-test-1',
    ticker: 'MSFT',
    side: 'buy',
    probability: 0.62,
    expectedReturn: 0.012,
    horizonDays: 5,
    modelId: 'gbt-test',
    modelVersion: '1',
    featureSnapshotId: 'fs-test-1',
    attributions: [
      { feature: 'ret_20', value: 0.05, contribution: 0.04 },
      { feature: 'rsi_14', value: 61, contribution: 0.02 },
    ],
    asOf: '2001-06-01T20:00:00.000Z',
    ...overrides,
  });
}

/** Stores the proposal and a minimal feature snapshot it refers to (committee_runs needs both). */
export async function storeProposal(db: Db, p: Proposal): Promise<void> {
  await db.transaction((tx) => storeOutsideProposal(tx, p, { featureSet: 'test', version: 'test' }));
}

/** Loads the real MSFT sample bars. */
export async function loadMsft(db: Db): Promise<void> {
  await ingestPriceCsv(db, MSFT_CSV, { ticker: 'MSFT' });
}

export interface SeriesSpec {
  ticker: string;
  /** Last bar's date; bars go back one calendar weekday at a time. */
  endDate: string;
  bars: number;
  start: number;
  /** Daily drift, e.g. 0.003 = +0.3% a day. */
  drift: number;
  /** Daily noise (standard deviation of the daily return, roughly). */
  noise: number;
  volume: number;
  seed?: number;
}

/** A hand-made OHLCV series: a drift plus seeded noise, weekdays only, ending at `endDate` 21:00Z. */
export function makeSeries(spec: SeriesSpec): Bar[] {
  const rand = prng(spec.seed ?? 7);
  const days: string[] = [];
  const d = new Date(`${spec.endDate}T21:00:00.000Z`);
  while (days.length < spec.bars) {
    const wd = d.getUTCDay();
    if (wd !== 0 && wd !== 6) days.unshift(d.toISOString());
    d.setUTCDate(d.getUTCDate() - 1);
  }
  let close = spec.start;
  return days.map((ts) => {
    // Sum of uniforms ~ normal; scaled so `noise` is about one standard deviation.
    const z = (rand() + rand() + rand() + rand() - 2) * Math.sqrt(3);
    const open = close;
    close = Math.max(1, close * (1 + spec.drift + spec.noise * z));
    const high = Math.max(open, close) * (1 + spec.noise * 0.3);
    const low = Math.min(open, close) * (1 - spec.noise * 0.3);
    return { ticker: spec.ticker, timeframe: '1Day', ts, open, high, low, close, volume: spec.volume, source: 'test:hand-made' };
  });
}

export async function storeSeries(db: Db, bars: readonly Bar[]): Promise<void> {
  await db.transaction((tx) => upsertBars(tx, bars));
}

export interface TestNews {
  title: string;
  body: string;
  publishedAt: string;
  tickers: string[];
  url?: string;
}

/** Stores news items through rag (embeddings, tickers, sentiment); returns their ids. */
export async function storeTestNews(db: Db, embedder: Embedder, items: readonly TestNews[]): Promise<string[]> {
  const res = await storeNews(
    db,
    embedder,
    items.map((n, i) => ({
      source: 'test-wire',
      guid: `test-${i}-${n.title.slice(0, 20)}`,
      url: n.url ?? `https://news.example.test/${i}`,
      title: n.title,
      body: n.body,
      publishedAt: new Date(n.publishedAt),
      tickers: n.tickers,
      metadata: {},
    })),
    companyMatcher({}),
  );
  return res.ids;
}
