import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/errors.ts';
import { PROJECT_ROOT } from '../../config/index.ts';
import { companyMatcher, createUseLiteEmbedder, importNews, parseJsonl, parseReutersDate, parseReutersXml } from '../../rag/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { memoEmbedder } from './memo-embedder.ts';

// One embedder per file: the USE model loads once per process.
const embedder = memoEmbedder(createUseLiteEmbedder());
const matcher = companyMatcher({ exxon: 'XOM', 'texaco canada': 'TXC' });
const REUTERS = path.join(PROJECT_ROOT, 'data/samples/news-reuters-1987');
const dir = mkdtempSync(path.join(tmpdir(), 'quorum-rag-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function jsonl(name: string, lines: ReadonlyArray<Record<string, unknown> | string>): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
  return file;
}

const good = (n: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  published_at: `2024-03-0${n}T14:30:00Z`,
  title: `Refiner ${n} lifts output as crude prices slide`,
  body: `Refiner number ${n} said it raised throughput after oil prices fell for a third day.`,
  url: `https://news.example.com/energy/refiner-${n}`,
  source: 'example-wire',
  ...extra,
});

async function count(t: TestDb, table: string): Promise<number> {
  const res = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return res.rows[0]?.n ?? -1;
}

describe('parsers', () => {
  it('reads Reuters dates as GMT', () => {
    expect(parseReutersDate('26-FEB-1987 15:01:01.79')?.toISOString()).toBe('1987-02-26T15:01:01.790Z');
    expect(parseReutersDate(' 1-MAR-1987 03:25:46.85')?.toISOString()).toBe('1987-03-01T03:25:46.850Z');
    expect(parseReutersDate('31-FEB-1987 10:00:00')).toBeNull();
    expect(parseReutersDate('yesterday')).toBeNull();
  });

  it('reads several articles of a LEWIS file and rejects one without a date by its line', () => {
    const xml = `<?xml version="1.0"?>\n<LEWIS>\n<REUTERS NEWID="1"><DATE>26-FEB-1987 15:01:01.79</DATE><TOPICS><D>crude</D></TOPICS>
<TEXT><TITLE>OIL &lt;XON&gt; CUTS</TITLE><BODY>Prices fell.\n Reuter\n&#3;</BODY></TEXT></REUTERS>\n<REUTERS NEWID="2">\n<TEXT><TITLE>NO DATE</TITLE></TEXT></REUTERS>\n</LEWIS>`;
    const { drafts, rejected } = parseReutersXml(xml, 'x.xml');
    expect(drafts).toHaveLength(1);
    expect(drafts[0]).toMatchObject({ title: 'OIL <XON> CUTS', body: 'Prices fell.', guid: '1', metadata: { topics: ['crude'] } });
    expect(rejected).toEqual([{ file: 'x.xml', line: 7, error: 'DATE: missing' }]);
  });

  it('names the line and the field of every bad JSONL line', () => {
    const text = [
      JSON.stringify(good(1)),
      JSON.stringify({ ...good(2), published_at: undefined }),
      '{oops',
      JSON.stringify({ ...good(3), url: 'not a url' }),
    ].join('\n');
    const { drafts, rejected } = parseJsonl(text, 'f.jsonl');
    expect(drafts).toHaveLength(1);
    expect(rejected.map((r) => r.line)).toEqual([2, 3, 4]);
    expect(rejected[0]?.error).toMatch(/^published_at: missing/);
    expect(rejected[1]?.error).toMatch(/invalid JSON/);
    expect(rejected[2]?.error).toMatch(/^url: not an absolute http\(s\) URL/);
  });
});

describe.each(BACKENDS)('news import on $name', ({ open, available }) => {
  let t: TestDb;
  beforeEach(async () => {
    if (available) t = await open();
  });
  afterEach(async () => {
    if (available) await t.cleanup();
  });

  it.skipIf(!available)('imports the Reuters crude/ articles with topics, tickers and sentiment; importing again adds nothing', async () => {
    const first = await importNews(t.db, embedder, path.join(REUTERS, 'crude'), { matcher });
    expect(first).toMatchObject({ read: 20, inserted: 20, duplicates: 0, rejected: [] });
    const row = await t.db.query<{ topics: unknown; sentiment: number | null; dims: number }>(
      `SELECT metadata->'topics' AS topics, sentiment, vector_dims(embedding) AS dims FROM news_items WHERE title LIKE 'TEXACO CANADA%'`,
    );
    expect(row.rows[0]).toMatchObject({ topics: ['crude'], dims: 512 });
    expect(typeof row.rows[0]?.sentiment).toBe('number');
    const tickers = await t.db.query(`SELECT ticker, method, confidence FROM news_tickers WHERE ticker = 'TXC'`);
    expect(tickers.rows).toEqual([{ ticker: 'TXC', method: 'angle', confidence: 0.9 }]);

    const again = await importNews(t.db, embedder, path.join(REUTERS, 'crude'), { matcher });
    expect(again).toMatchObject({ read: 20, inserted: 0, duplicates: 20 });
    expect(await count(t, 'news_items')).toBe(20);
  });

  it.skipIf(!available)('rejects a JSONL file with a line without a date and a line with an invalid URL, naming the lines, and stores nothing', async () => {
    const file = jsonl('bad.jsonl', [good(1), { ...good(2), published_at: undefined }, good(3), { ...good(4), url: 'htp:/broken' }]);
    const error = await importNews(t.db, embedder, file, { matcher }).catch((e: unknown) => e);
    expect(QuorumError.is(error, 'INPUT_INVALID')).toBe(true);
    const message = (error as QuorumError).message;
    expect(message).toContain('bad.jsonl:2: published_at: missing');
    expect(message).toContain('bad.jsonl:4: url: not an absolute http(s) URL');
    expect(message).toContain('nothing stored');
    expect(await count(t, 'news_items')).toBe(0);
    expect(await count(t, 'embedding_store')).toBe(0);
  });

  it.skipIf(!available)('stores the valid rest of a bad file only when told to skip invalid lines, and reports the rejects', async () => {
    const file = jsonl('mixed.jsonl', [good(1), { ...good(2), published_at: 'someday' }, '', good(3)]);
    const result = await importNews(t.db, embedder, file, { matcher, skipInvalid: true });
    expect(result.inserted).toBe(2);
    expect(result.rejected).toEqual([
      { file: expect.stringContaining('mixed.jsonl') as unknown as string, line: 2, error: 'published_at: not a valid ISO 8601 date' },
    ]);
    expect(await count(t, 'news_items')).toBe(2);
  });

  it.skipIf(!available)('dedupes by canonical URL and by content hash, and stores given tickers with confidence 1', async () => {
    const file = jsonl('dupes.jsonl', [
      good(1, { tickers: ['xom'] }),
      // Same article, tracking parameters, fragment, trailing slash and host case differ.
      good(1, { url: 'https://NEWS.example.com/energy/refiner-1/?utm_source=rss&utm_campaign=x#comments', title: 'Refiner 1 (updated)' }),
      // Same text under another URL.
      good(2),
      good(2, { url: 'https://mirror.example.org/story/2' }),
    ]);
    const result = await importNews(t.db, embedder, file, { matcher });
    expect(result).toMatchObject({ read: 4, inserted: 2, duplicates: 2 });
    const tickers = await t.db.query(`SELECT ticker, confidence, method FROM news_tickers ORDER BY ticker`);
    expect(tickers.rows).toEqual([{ ticker: 'XOM', confidence: 1, method: 'provided' }]);
    const ids = await t.db.query<{ id: string }>('SELECT id FROM news_items ORDER BY id');
    for (const r of ids.rows) expect(r.id).toMatch(/^news:[0-9a-f]{12}$/);
  });
});
