/**
 * The StockNet 2014 tweets (real, data/samples/stocknet-2014): the whole file through the tweet parser
 * and spam rule, a slice (Apple's tweets around its 2014-01-27 after-close earnings) through the same
 * import path as any feed into PGlite, and a property test that no point-in-time search as of T returns
 * an item published after T, to the second.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../config/index.ts';
import { parseJson } from '../../contracts/parse.ts';
import { firstSessionInformed, newYorkToUtc } from '../../market/index.ts';
import { companyMatcher, createUseLiteEmbedder, importNews, parseTweetsJsonl, searchNews, spamReason, TweetLine } from '../../rag/index.ts';
import { freshPglite, type TestDb } from '../support/db.ts';
import { memoEmbedder } from './memo-embedder.ts';

const TWEETS = path.join(PROJECT_ROOT, 'data/samples/stocknet-2014/tweets.jsonl.gz');
const text = gunzipSync(readFileSync(TWEETS)).toString('utf8');
const lines = text.split('\n').filter((l) => l.trim() !== '');
function jsonLine(line: string): unknown {
  const r = parseJson(line);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
const embedder = memoEmbedder(createUseLiteEmbedder());
const dir = mkdtempSync(path.join(tmpdir(), 'quorum-stocknet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the StockNet tweets file', () => {
  it('parses every one of its 26,878 lines: none rejected, ticker lists dropped as spam and counted, one item per tweet id', () => {
    const parsed = parseTweetsJsonl(text, 'tweets.jsonl.gz');
    expect(lines.length).toBe(26_878);
    expect(parsed.rejected).toEqual([]);
    const spam = parsed.spam['cashtag-list'] ?? 0;
    expect(spam).toBeGreaterThan(5000);
    expect(parsed.drafts.length + spam + parsed.merged).toBe(lines.length);
    expect(new Set(parsed.drafts.map((d) => d.guid)).size).toBe(parsed.drafts.length);
    for (const d of parsed.drafts) {
      expect(spamReason(d.title)).toBeNull();
      expect(d.url).toBe(`https://twitter.com/i/web/status/${d.guid ?? ''}`);
      expect(d.tickers.length).toBeGreaterThan(0);
    }
    // --keep-spam keeps everything the rule would drop.
    const kept = parseTweetsJsonl(text, 'tweets.jsonl.gz', { keepSpam: true });
    expect(kept.spam).toEqual({});
    expect(kept.drafts.length).toBeGreaterThan(parsed.drafts.length);
  });

  it('the spam rule: four or more distinct cashtags make a ticker list; three, or one repeated, do not', () => {
    expect(spamReason('Dow #Stocks Trend $AXP $UTX $CSCO $KO $HD @ http://t.co/x')).toBe('cashtag-list');
    expect(spamReason('Should you buy $BOH $DISCA $AVX $AAPL #NASDAQ')).toBe('cashtag-list');
    expect(spamReason('$AAPL beats, $GOOG and $MSFT next')).toBeNull();
    expect(spamReason('$AAPL $AAPL $AAPL $AAPL to the moon')).toBeNull();
    expect(spamReason('price $5 $10 $20 $40')).toBeNull();
  });

  it("decodes the HTML entities of Twitter's text (&amp; &lt; &gt;) and nothing else", () => {
    const line = JSON.stringify({ id: '9', ticker: 'PG', published_at: '2014-03-03T15:00:00Z', text: 'P&amp;G &lt;3 &gt; &copy; &amp;amp;' });
    expect(parseTweetsJsonl(line, 'x.jsonl').drafts[0]?.title).toBe('P&G <3 > &copy; &amp;');
  });

  it('names the line and the field of a bad tweet line', () => {
    const bad = [
      JSON.stringify({ id: '1', ticker: 'AAPL', published_at: '2014-01-27', text: 'no time of day' }),
      JSON.stringify({ id: '2', ticker: 'AAPL', published_at: '2014-01-27T21:00:00Z', text: '' }),
      JSON.stringify({ id: 3, ticker: 'AAPL', published_at: '2014-01-27T21:00:00Z', text: 'numeric id' }),
    ].join('\n');
    const r = parseTweetsJsonl(bad, 'bad.jsonl');
    expect(r.drafts).toEqual([]);
    expect(r.rejected.map((x) => [x.line, x.error.split(':')[0]])).toEqual([
      [1, 'published_at'],
      [2, 'text'],
      [3, 'id'],
    ]);
    expect(TweetLine.safeParse(jsonLine(lines[0] ?? '{}')).success).toBe(true);
  });
});

describe('a slice of the tweets in PGlite: import and point in time', () => {
  // Apple's tweets from 2014-01-27 19:00Z to 2014-01-28 03:00Z: its quarter was reported after the close on the 27th.
  const FROM = '2014-01-27T19:00:00Z';
  const TO = '2014-01-28T03:00:00Z';
  const slice = lines.filter((l) => {
    const t = TweetLine.parse(jsonLine(l));
    return t.ticker === 'AAPL' && t.published_at >= FROM && t.published_at <= TO;
  });
  let t: TestDb;
  let stored: Array<{ id: string; published_at: Date; title: string }>;
  beforeAll(async () => {
    t = await freshPglite();
    const file = path.join(dir, 'aapl-slice.jsonl.gz');
    writeFileSync(file, gzipSync(slice.join('\n')));
    const first = await importNews(t.db, embedder, file, { matcher: companyMatcher({ apple: 'AAPL' }) });
    expect(first.rejected).toEqual([]);
    expect(first.inserted).toBeGreaterThan(30);
    expect(first.inserted + first.duplicates + (first.spam['cashtag-list'] ?? 0)).toBe(slice.length);
    const again = await importNews(t.db, embedder, file, { matcher: companyMatcher({ apple: 'AAPL' }) });
    expect(again.inserted).toBe(0);
    const res = await t.db.query<{ id: string; published_at: Date; title: string }>('SELECT id, published_at, title FROM news_items ORDER BY published_at');
    stored = res.rows;
  }, 120_000);
  afterAll(async () => {
    await t.cleanup();
  });

  it('tags the collected ticker at confidence 1 and other cashtags as found, with sentiment and a 512-d vector', async () => {
    const res = await t.db.query<{ ticker: string; method: string; confidence: number; n: number }>(
      'SELECT ticker, method, confidence, count(*)::int AS n FROM news_tickers GROUP BY 1, 2, 3 ORDER BY n DESC',
    );
    expect(res.rows[0]).toMatchObject({ ticker: 'AAPL', method: 'provided', confidence: 1, n: stored.length });
    expect(res.rows.some((r) => r.method === 'cashtag' && r.confidence === 0.95 && r.ticker !== 'AAPL')).toBe(true);
    const dims = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM news_items WHERE sentiment IS NOT NULL AND vector_dims(embedding) = 512');
    expect(dims.rows[0]?.n).toBe(stored.length);
  });

  it('a tweet posted after the 2014-01-27 close informs the next session only: invisible as of the close, found as of 10:00 next day', async () => {
    const close = newYorkToUtc('2014-01-27', 16, 0);
    const after = stored.find((s) => s.published_at.toISOString() > close && s.published_at.toISOString() < '2014-01-28T00:00:00Z');
    expect(after, 'the slice has a tweet between the close and midnight UTC').toBeDefined();
    if (!after) return;
    expect(firstSessionInformed(after.published_at)).toBe('2014-01-28');
    expect(firstSessionInformed(new Date(Date.parse(close) - 1000))).toBe('2014-01-27');
    const atClose = await searchNews(t.db, embedder, { query: after.title, ticker: 'AAPL', asOf: close, k: 50 });
    expect(atClose.map((r) => r.id)).not.toContain(after.id);
    const oneSecondEarly = await searchNews(t.db, embedder, { query: after.title, asOf: new Date(after.published_at.getTime() - 1000), k: 50 });
    expect(oneSecondEarly.map((r) => r.id)).not.toContain(after.id);
    const next = await searchNews(t.db, embedder, { query: after.title, ticker: 'AAPL', asOf: newYorkToUtc('2014-01-28', 10, 0), k: 5 });
    expect(next[0]?.id).toBe(after.id);
  });

  it('property: no search as of T returns an item published after T (T to the second, with and without a ticker)', async () => {
    const lo = Date.parse(FROM) - 3_600_000;
    const hi = Date.parse(TO) + 3_600_000;
    const queries = ['earnings guidance', 'lawsuit', 'product launch', 'iPhone sales', 'stock price target'];
    let nonEmpty = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: lo / 1000, max: hi / 1000 }),
        fc.constantFrom(...queries),
        fc.boolean(),
        fc.integer({ min: 1, max: 20 }),
        async (sec, query, withTicker, k) => {
          const asOf = new Date(sec * 1000);
          const results = await searchNews(t.db, embedder, { query, asOf, ticker: withTicker ? 'AAPL' : null, k });
          if (results.length > 0) nonEmpty++;
          for (const r of results) expect(Date.parse(r.publishedAt)).toBeLessThanOrEqual(asOf.getTime());
        },
      ),
      { numRuns: 40, seed: 19 },
    );
    expect(nonEmpty).toBeGreaterThan(20);
  });
});
