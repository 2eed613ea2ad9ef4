import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { companyMatcher, createUseLiteEmbedder, pollFeeds, type PollOptions } from '../../rag/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { atomDocument, rssDocument, startFeedServer, type FeedServer } from '../support/feed-server.ts';
import { memoEmbedder } from './memo-embedder.ts';

const embedder = memoEmbedder(createUseLiteEmbedder());
const options: PollOptions = { matcher: companyMatcher({ exxon: 'XOM' }), timeoutMs: 2_000, retries: 2, backoffMs: 20 };

const rssItems = [
  {
    title: 'Exxon lifts dividend',
    link: 'https://wire.example.com/markets/exxon-dividend',
    guid: 'wire-1',
    description: 'Exxon raised its quarterly dividend by 5 pct.',
    pubDate: 'Mon, 04 Mar 2024 14:00:00 GMT',
  },
  {
    title: 'NASDAQ:INTC slides on guidance',
    link: 'https://wire.example.com/tech/intel-guidance',
    guid: 'wire-2',
    description: 'Chip maker cut its outlook.',
    pubDate: 'Mon, 04 Mar 2024 15:00:00 GMT',
  },
  {
    title: 'Crude settles lower',
    link: 'https://wire.example.com/energy/crude',
    guid: 'wire-3',
    description: 'Oil prices fell for a third day as stocks rose.',
    pubDate: 'Tue, 05 Mar 2024 21:00:00 GMT',
  },
];
const atomEntries = [
  {
    title: '$AAPL unveils new laptop',
    link: 'https://blog.example.org/posts/apple-laptop',
    id: 'urn:blog:1',
    summary: 'The company showed a new laptop.',
    updated: '2024-03-04T16:00:00Z',
  },
  // The RSS feed's crude story again, with tracking parameters and another host case: stored once.
  {
    title: 'Crude settles lower (syndicated)',
    link: 'https://WIRE.example.com/energy/crude/?utm_source=atom#top',
    id: 'urn:blog:2',
    summary: 'Syndicated copy.',
    updated: '2024-03-05T21:05:00Z',
  },
];
const LAST_MODIFIED = 'Tue, 05 Mar 2024 22:00:00 GMT';

async function newsCount(t: TestDb): Promise<number> {
  const res = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM news_items');
  return res.rows[0]?.n ?? -1;
}

describe.each(BACKENDS)('feed polling on $name', ({ open, available }) => {
  let t: TestDb;
  let server: FeedServer;
  beforeEach(async () => {
    if (!available) return;
    t = await open();
    server = await startFeedServer({
      '/rss.xml': { body: rssDocument('Wire', rssItems), etag: '"rss-v1"' },
      '/atom.xml': { body: atomDocument('Blog', atomEntries), lastModified: LAST_MODIFIED, contentType: 'application/atom+xml' },
      '/broken.xml': { body: '<rss version="2.0"><channel><title>Broken</title><item><title>unclosed' },
      '/flaky.xml': {
        body: rssDocument('Flaky', [
          { ...rssItems[0]!, guid: 'flaky-1', link: 'https://flaky.example.com/a', title: 'Flaky item', description: 'Answered after one 503.' },
        ]),
        failFirst: 1,
      },
      '/hang.xml': { body: '', hang: true },
    });
  });
  afterEach(async () => {
    if (!available) return;
    await server.close();
    await t.cleanup();
  });

  it.skipIf(!available)('stores the RSS and Atom feeds, reports the malformed one by name, and a second poll adds nothing (304s)', async () => {
    const feeds = [
      { name: 'wire', url: server.url('/rss.xml') },
      { name: 'blog', url: server.url('/atom.xml') },
      { name: 'broken-feed', url: server.url('/broken.xml') },
    ];
    const first = await pollFeeds(t.db, embedder, feeds, options);
    // Feeds are polled in parallel: the story both syndicate is stored by whichever feed lands first.
    expect(first.map((r) => [r.name, r.status, r.inserted])).toEqual([
      ['wire', 'ok', expect.any(Number)],
      ['blog', 'ok', expect.any(Number)],
      ['broken-feed', 'error', 0],
    ]);
    expect(first[0]!.inserted).toBeGreaterThanOrEqual(2);
    expect(first[2]?.error).toMatch(/malformed feed/);
    // The syndicated crude story has the RSS item's canonical URL: RSS and Atom add 4 items in all.
    expect(first[0]!.inserted + first[1]!.inserted).toBe(4);
    expect(first[0]!.duplicates + first[1]!.duplicates).toBe(1);
    expect(await newsCount(t)).toBe(4);

    const tickers = await t.db.query<{ ticker: string; method: string }>('SELECT ticker, method FROM news_tickers ORDER BY ticker');
    expect(tickers.rows).toEqual([
      { ticker: 'AAPL', method: 'cashtag' },
      { ticker: 'INTC', method: 'exchange' },
      { ticker: 'XOM', method: 'name' },
    ]);
    const feedRows = await t.db.query('SELECT name, etag, last_modified, last_status FROM feeds ORDER BY name');
    expect(feedRows.rows).toEqual([
      { name: 'blog', etag: null, last_modified: LAST_MODIFIED, last_status: 'ok' },
      { name: 'broken-feed', etag: null, last_modified: null, last_status: 'error' },
      { name: 'wire', etag: '"rss-v1"', last_modified: null, last_status: 'ok' },
    ]);

    const second = await pollFeeds(t.db, embedder, feeds, options);
    expect(second.map((r) => [r.name, r.status, r.inserted])).toEqual([
      ['wire', 'not-modified', 0],
      ['blog', 'not-modified', 0],
      ['broken-feed', 'error', 0],
    ]);
    expect(server.hits('/rss.xml')).toEqual({ total: 2, conditional: 1, notModified: 1 });
    expect(server.hits('/atom.xml')).toEqual({ total: 2, conditional: 1, notModified: 1 });
    expect(await newsCount(t)).toBe(4);
  });

  it.skipIf(!available)('without validators, a re-poll still adds nothing (guid and URL dedupe); a new item is added alone', async () => {
    server.set('/plain.xml', { body: rssDocument('Plain', rssItems) });
    const feed = [{ name: 'plain', url: server.url('/plain.xml') }];
    expect((await pollFeeds(t.db, embedder, feed, options))[0]).toMatchObject({ status: 'ok', inserted: 3 });
    expect((await pollFeeds(t.db, embedder, feed, options))[0]).toMatchObject({ status: 'ok', fetched: 3, inserted: 0, duplicates: 3 });
    const extra = {
      title: 'Boeing wins order',
      link: 'https://wire.example.com/air/boeing',
      guid: 'wire-4',
      description: 'A large order.',
      pubDate: 'Wed, 06 Mar 2024 09:00:00 GMT',
    };
    server.set('/plain.xml', { body: rssDocument('Plain', [...rssItems, extra]) });
    expect((await pollFeeds(t.db, embedder, feed, options))[0]).toMatchObject({ status: 'ok', fetched: 4, inserted: 1, duplicates: 3 });
    expect(await newsCount(t)).toBe(4);
  });

  it.skipIf(!available)('retries a feed that answers 503, and a feed that never answers times out without stopping the others', async () => {
    const results = await pollFeeds(
      t.db,
      embedder,
      [
        { name: 'flaky', url: server.url('/flaky.xml') },
        { name: 'stuck', url: server.url('/hang.xml') },
        { name: 'missing', url: server.url('/nope.xml') },
      ],
      { ...options, timeoutMs: 300, retries: 1 },
    );
    expect(results[0]).toMatchObject({ name: 'flaky', status: 'ok', attempts: 2, inserted: 1 });
    expect(results[1]).toMatchObject({ name: 'stuck', status: 'error', attempts: 2 });
    expect(results[1]?.error).toMatch(/timed out after 300 ms/);
    // A 404 is not retried.
    expect(results[2]).toMatchObject({ name: 'missing', status: 'error', attempts: 1, error: 'HTTP 404' });
    expect(await newsCount(t)).toBe(1);
  });
});
