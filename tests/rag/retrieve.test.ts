import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/errors.ts';
import { PROJECT_ROOT } from '../../config/index.ts';
import { companyMatcher, createUseLiteEmbedder, importNews, searchNews, storeNews, SNIPPET_CHARS, type NewsSearchResult } from '../../rag/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { memoEmbedder } from './memo-embedder.ts';

const embedder = memoEmbedder(createUseLiteEmbedder());
const REUTERS = path.join(PROJECT_ROOT, 'data/samples/news-reuters-1987');
const AFTER_ALL = '1987-03-10T00:00:00Z';

/** Labelled queries: an answer is relevant when its Reuters TOPICS contain the label. */
export const LABELLED_QUERIES: ReadonlyArray<{ query: string; label: 'crude' | 'acq' }> = [
  { query: 'crude oil prices', label: 'crude' },
  { query: 'oil companies cut posted crude prices per barrel', label: 'crude' },
  { query: 'OPEC oil production quota', label: 'crude' },
  { query: 'company agrees to acquire a stake', label: 'acq' },
  { query: 'takeover bid and tender offer for shares', label: 'acq' },
  { query: 'merger agreement and acquisition completed', label: 'acq' },
  { query: 'investor buys shares of common stock in a company', label: 'acq' },
];

describe.each(BACKENDS)('point-in-time news retrieval on $name', ({ open, available }) => {
  let t: TestDb;
  let topics: Map<string, string[]>;
  let published: Map<string, number>;

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    const result = await importNews(t.db, embedder, REUTERS, { matcher: companyMatcher({ 'texaco canada': 'TXC' }) });
    // 80 articles, one of them (NEWID 10) both in acq/ and in reuters-21578.xml.
    expect(result).toMatchObject({ read: 80, inserted: 79, duplicates: 1, rejected: [] });
    const rows = await t.db.query<{ id: string; topics: string[]; published_at: Date }>(
      "SELECT id, metadata->'topics' AS topics, published_at FROM news_items",
    );
    topics = new Map(rows.rows.map((r) => [r.id, r.topics]));
    published = new Map(rows.rows.map((r) => [r.id, new Date(r.published_at).getTime()]));
  });
  afterAll(async () => {
    if (available) await t.cleanup();
  });

  const has = (r: NewsSearchResult, label: string): boolean => topics.get(r.id)?.includes(label) ?? false;

  it.skipIf(!available)('ranks crude/ articles above acq/ ones for a query about crude oil prices', async () => {
    const results = await searchNews(t.db, embedder, { query: 'crude oil prices', asOf: AFTER_ALL, k: 10 });
    expect(results).toHaveLength(10);
    const crudeRanks = results.flatMap((r, i) => (has(r, 'crude') ? [i] : []));
    const acqRanks = results.flatMap((r, i) => (has(r, 'acq') && !has(r, 'crude') ? [i] : []));
    expect(crudeRanks.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    for (const a of acqRanks) expect(a).toBeGreaterThan(Math.max(...crudeRanks.slice(0, 5)));
  });

  it.skipIf(!available)('reaches a mean precision@5 of at least 0.8 over the labelled queries', async () => {
    const perQuery: number[] = [];
    for (const { query, label } of LABELLED_QUERIES) {
      const results = await searchNews(t.db, embedder, { query, asOf: AFTER_ALL, k: 5 });
      perQuery.push(results.filter((r) => has(r, label)).length / 5);
    }
    const mean = perQuery.reduce((s, p) => s + p, 0) / perQuery.length;
    console.info(`precision@5 over ${perQuery.length} labelled queries: ${mean.toFixed(3)} (per query ${perQuery.join(' ')})`);
    expect(mean).toBeGreaterThanOrEqual(0.8);
  });

  it.skipIf(!available)('never returns an item published after the as-of time (property)', async () => {
    const first = Math.min(...published.values());
    const last = Math.max(...published.values());
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: first - 3_600_000, max: last + 3_600_000 }),
        fc.constantFrom('crude oil prices', 'acquisition of shares', 'grain exports', 'bank debt rating'),
        fc.integer({ min: 1, max: 15 }),
        fc.option(fc.constantFrom('TXC', 'UCL', 'VIA', 'AXP'), { nil: null }),
        async (asOfMs, query, k, ticker) => {
          const asOf = new Date(asOfMs);
          const results = await searchNews(t.db, embedder, { query, asOf, k, ticker });
          for (const r of results) {
            expect(new Date(r.publishedAt).getTime()).toBeLessThanOrEqual(asOfMs);
            expect(published.get(r.id)).toBeLessThanOrEqual(asOfMs);
            if (ticker) expect(r.tickers.map((x) => x.ticker)).toContain(ticker);
          }
          // The filter is in the SQL: as many items as exist by then are returned, up to k.
          const visible = [...published.entries()].filter(([, p]) => p <= asOfMs).length;
          if (!ticker) expect(results.length).toBe(Math.min(k, visible));
        },
      ),
      { numRuns: 25 },
    );
  });

  it.skipIf(!available)('filters by ticker inside the query and scores the ticker match', async () => {
    const results = await searchNews(t.db, embedder, { query: 'oil prices', asOf: AFTER_ALL, ticker: 'txc', k: 5 });
    expect(results.map((r) => r.title)).toEqual(['TEXACO CANADA <TXC> LOWERS CRUDE POSTINGS']);
    expect(results[0]?.scores.tickerMatch).toBe(0.9);
    expect(results[0]?.tickers[0]).toEqual({ ticker: 'TXC', confidence: 0.9, method: 'angle' });
  });

  it.skipIf(!available)('returns citeable ids of stored rows, bounded snippets and the score parts', async () => {
    const results = await searchNews(t.db, embedder, { query: 'bank shares offering', asOf: AFTER_ALL, k: 8 });
    for (const r of results) {
      expect(r.id).toMatch(/^news:[0-9a-f]{12}$/);
      expect(published.has(r.id)).toBe(true);
      expect(r.snippet.length).toBeLessThanOrEqual(SNIPPET_CHARS);
      expect(r.scores.recency).toBeGreaterThan(0);
      expect(r.scores.recency).toBeLessThanOrEqual(1);
      expect(r.score).toBeCloseTo(0.7 * r.scores.similarity + 0.2 * r.scores.tickerMatch + 0.1 * r.scores.recency, 10);
    }
  });

  it.skipIf(!available)('returns nothing before the first article was published, and refuses bad input naming the field', async () => {
    expect(await searchNews(t.db, embedder, { query: 'crude oil', asOf: '1987-02-26T15:00:00Z', k: 5 })).toEqual([]);
    const bad = await searchNews(t.db, embedder, { query: 'crude', asOf: 'not a date', k: 0 }).catch((e: unknown) => e);
    expect(QuorumError.is(bad, 'INPUT_INVALID')).toBe(true);
    expect((bad as Error).message).toMatch(/asOf/);
    expect((bad as Error).message).toMatch(/k:/);
  });

  it.skipIf(!available)('keeps one of two near-identical stories (MMR near-duplicate removal)', async () => {
    const original = await t.db.query<{ title: string; body: string }>("SELECT title, body FROM news_items WHERE title LIKE 'DIAMOND SHAMROCK%'");
    const story = original.rows[0]!;
    // The same wire story re-sent with a corrected figure: another content hash, so both are stored.
    await storeNews(
      t.db,
      embedder,
      [
        {
          source: 'resend',
          guid: 'resend-1',
          url: null,
          title: story.title,
          body: story.body.replace('1.50 dlrs', '1.55 dlrs'),
          publishedAt: new Date('1987-02-26T17:05:00Z'),
          tickers: [],
          metadata: {},
        },
      ],
      companyMatcher({}),
    );
    const results = await searchNews(t.db, embedder, { query: 'Diamond Shamrock cuts crude prices', asOf: AFTER_ALL, k: 10 });
    expect(results.filter((r) => r.title === story.title)).toHaveLength(1);
  });
});
