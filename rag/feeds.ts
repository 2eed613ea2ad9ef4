import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import Parser from 'rss-parser';
import { z } from 'zod';
import { errorMessage } from '../contracts/errors.ts';
import { bindEmbeddingStore, type Db, type Queryable } from '../db/index.ts';
import { canonicalUrl } from './canonical.ts';
import type { Embedder } from './embeddings.ts';
import type { FeedPollResult, NewsDraft } from './schema.ts';
import { insertPrepared, prepareNews } from './store.ts';
import type { CompanyMatcher } from './tickers.ts';

/** Feeds fetched at once by pollFeeds. */
export const DEFAULT_FEED_CONCURRENCY = 4;
/** Upper bound of a feed document; a larger one is refused rather than parsed. */
export const MAX_FEED_BYTES = 10_000_000;

export interface FeedSource {
  name: string;
  url: string;
}

export interface PollOptions {
  matcher: CompanyMatcher;
  /** Per attempt, headers and body included (settings.news.pollTimeoutMs). */
  timeoutMs: number;
  /** Extra attempts after a network error, timeout, 429 or 5xx (settings.news.retries). */
  retries: number;
  /** First backoff; doubles on each retry (settings.news.backoffMs). */
  backoffMs: number;
  concurrency?: number;
  /** Publication time of an item that carries no date: when it was first seen. */
  now?: () => Date;
}

// rss-parser output is outside data: lenient, then mapped to a NewsDraft.
const FeedItem = z
  .object({
    guid: z.string().nullish(),
    id: z.string().nullish(),
    link: z.string().nullish(),
    title: z.string().nullish(),
    contentSnippet: z.string().nullish(),
    content: z.string().nullish(),
    summary: z.string().nullish(),
    isoDate: z.string().nullish(),
    pubDate: z.string().nullish(),
    categories: z.array(z.unknown()).nullish(),
  })
  .passthrough();
const FeedDoc = z.object({ title: z.string().nullish(), items: z.array(z.unknown()).default([]) }).passthrough();
const FeedRow = z.object({ etag: z.string().nullable(), last_modified: z.string().nullable() });

const parser = new Parser({ timeout: 0 });

function stripTags(s: string): string {
  return s
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Maps parsed feed items to drafts; items with neither title nor text are skipped (counted). */
export function feedItemsToDrafts(items: readonly unknown[], source: string, seenAt: Date): { drafts: NewsDraft[]; skipped: number } {
  const drafts: NewsDraft[] = [];
  let skipped = 0;
  for (const raw of items) {
    const parsed = FeedItem.safeParse(raw);
    if (!parsed.success) {
      skipped++;
      continue;
    }
    const it = parsed.data;
    const body = stripTags(it.contentSnippet ?? it.content ?? it.summary ?? '');
    const title = stripTags(it.title ?? '') || body.slice(0, 120);
    const dateText = it.isoDate ?? it.pubDate ?? null;
    const date = dateText ? new Date(dateText) : null;
    if (!title) {
      skipped++;
      continue;
    }
    const link = it.link && canonicalUrl(it.link) ? it.link.trim() : null;
    const dated = date !== null && !Number.isNaN(date.getTime());
    drafts.push({
      source,
      guid: (it.guid ?? it.id ?? null)?.slice(0, 2000) ?? null,
      url: link,
      title: title.slice(0, 1000),
      body: body.slice(0, 200_000),
      publishedAt: dated ? date : seenAt,
      tickers: [],
      metadata: { feed: source, dateSource: dated ? 'feed' : 'first-seen' },
    });
  }
  return { drafts, skipped };
}

class FeedFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

type Fetched = { status: 'not-modified' } | { status: 'ok'; xml: string; etag: string | null; lastModified: string | null };

async function fetchOnce(feed: FeedSource, validators: z.infer<typeof FeedRow> | null, timeoutMs: number): Promise<Fetched> {
  const headers: Record<string, string> = { accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5' };
  if (validators?.etag) headers['if-none-match'] = validators.etag;
  if (validators?.last_modified) headers['if-modified-since'] = validators.last_modified;
  let res: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    res = await fetch(feed.url, { headers, signal, redirect: 'follow' });
  } catch (error) {
    throw new FeedFailure(signal.aborted ? `timed out after ${timeoutMs} ms` : `request failed: ${errorMessage(error)}`, true);
  }
  if (res.status === 304) {
    await res.body?.cancel();
    return { status: 'not-modified' };
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new FeedFailure(`HTTP ${res.status}`, res.status === 429 || res.status >= 500);
  }
  let xml: string;
  try {
    xml = await res.text();
  } catch (error) {
    throw new FeedFailure(signal.aborted ? `timed out after ${timeoutMs} ms reading the body` : `body read failed: ${errorMessage(error)}`, true);
  }
  if (xml.length > MAX_FEED_BYTES) throw new FeedFailure(`feed larger than ${MAX_FEED_BYTES} bytes`, false);
  return { status: 'ok', xml, etag: res.headers.get('etag'), lastModified: res.headers.get('last-modified') };
}

async function recordFeed(
  q: Queryable,
  feed: FeedSource,
  status: FeedPollResult['status'],
  error: string | null,
  validators?: { etag: string | null; lastModified: string | null },
): Promise<void> {
  // Validators change only after a successful store, so a failed poll re-fetches the full feed next time.
  await q.query(
    `INSERT INTO feeds (url, name, etag, last_modified, last_polled_at, last_status, last_error)
     VALUES ($1, $2, $3, $4, now(), $5, $6)
     ON CONFLICT (url) DO UPDATE SET name = EXCLUDED.name, last_polled_at = now(), last_status = EXCLUDED.last_status,
       last_error = EXCLUDED.last_error,
       etag = CASE WHEN $7 THEN EXCLUDED.etag ELSE feeds.etag END,
       last_modified = CASE WHEN $7 THEN EXCLUDED.last_modified ELSE feeds.last_modified END`,
    [feed.url, feed.name, validators?.etag ?? null, validators?.lastModified ?? null, status, error, validators !== undefined],
  );
}

/**
 * Polls one feed: a conditional GET (If-None-Match / If-Modified-Since from the last successful
 * poll), retried with exponential backoff on network errors, timeouts, 429 and 5xx; then parses
 * RSS or Atom with rss-parser and stores new items and the feed's validators in one transaction.
 * Never throws: a failure is returned, named, with status `error`.
 */
export async function pollFeed(db: Db, embedder: Embedder, feed: FeedSource, options: PollOptions): Promise<FeedPollResult> {
  const result: FeedPollResult = {
    name: feed.name,
    url: feed.url,
    status: 'error',
    attempts: 0,
    fetched: 0,
    inserted: 0,
    duplicates: 0,
    skipped: 0,
    error: null,
  };
  try {
    const row = await db.query('SELECT etag, last_modified FROM feeds WHERE url = $1', [feed.url]);
    const validators = row.rows[0] ? FeedRow.parse(row.rows[0]) : null;
    let fetched: Fetched | null = null;
    for (let attempt = 0; fetched === null; attempt++) {
      result.attempts = attempt + 1;
      try {
        fetched = await fetchOnce(feed, validators, options.timeoutMs);
      } catch (error) {
        if (!(error instanceof FeedFailure) || !error.retryable || attempt >= options.retries) throw error;
        await sleep(options.backoffMs * 2 ** attempt);
      }
    }
    if (fetched.status === 'not-modified') {
      await recordFeed(db, feed, 'not-modified', null);
      return { ...result, status: 'not-modified' };
    }
    let doc: z.infer<typeof FeedDoc>;
    try {
      doc = FeedDoc.parse(await parser.parseString(fetched.xml));
    } catch (error) {
      throw new FeedFailure(`malformed feed: ${errorMessage(error).split('\n')[0] ?? ''}`, false);
    }
    const { drafts, skipped } = feedItemsToDrafts(doc.items, feed.name, (options.now ?? (() => new Date()))());
    const { prepared, duplicates } = await prepareNews(db, embedder, drafts, options.matcher);
    const stored = await db.transaction(async (tx) => {
      const s = await insertPrepared(tx, prepared);
      await recordFeed(tx, feed, 'ok', null, { etag: fetched.etag, lastModified: fetched.lastModified });
      return s;
    });
    return { ...result, status: 'ok', fetched: doc.items.length, skipped, inserted: stored.inserted, duplicates: duplicates + stored.duplicates };
  } catch (error) {
    const message = errorMessage(error);
    await recordFeed(db, feed, 'error', message.slice(0, 2000)).catch(() => undefined);
    return { ...result, status: 'error', error: message };
  }
}

/** Polls every feed (a few at a time); one failing feed never stops the others (each result names its feed). */
export async function pollFeeds(db: Db, embedder: Embedder, feeds: readonly FeedSource[], options: PollOptions): Promise<FeedPollResult[]> {
  // Bind once up front: concurrent first bindings of an empty store would race on embedding_store.
  // A mismatched embedder is a configuration error for every feed, so it is thrown, not reported per feed.
  await bindEmbeddingStore(db, { model: embedder.model, dimension: embedder.dimension });
  const limit = pLimit(options.concurrency ?? DEFAULT_FEED_CONCURRENCY);
  return Promise.all(feeds.map((feed) => limit(() => pollFeed(db, embedder, feed, options))));
}
