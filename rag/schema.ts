import { z } from 'zod';

/**
 * Schemas of the news memory. Ours are `.strict()`; the ones describing outside data (JSONL lines,
 * RSS items) are lenient and mapped to ours right away.
 */

/** A ticker symbol as we store it: upper case, optional class suffix (BRK.B). */
export const Ticker = z.string().regex(/^[A-Z][A-Z0-9]{0,5}(?:[.-][A-Z]{1,2})?$/, 'expected a ticker like AAPL or BRK.B');
export type Ticker = z.infer<typeof Ticker>;

/** How a ticker was found in an item; each method has its own confidence. */
export const TickerMethod = z.enum(['provided', 'cashtag', 'exchange', 'angle', 'name']);
export type TickerMethod = z.infer<typeof TickerMethod>;

export const TickerMatch = z
  .object({
    ticker: Ticker,
    confidence: z.number().min(0).max(1),
    method: TickerMethod,
  })
  .strict();
export type TickerMatch = z.infer<typeof TickerMatch>;

/** One news item, normalised, before it is stored (the id and hashes are derived from it). */
export const NewsDraft = z
  .object({
    source: z.string().min(1).max(200),
    guid: z.string().min(1).max(2000).nullable(),
    url: z.string().min(1).max(2000).nullable(),
    title: z.string().min(1).max(1000),
    body: z.string().max(200_000),
    publishedAt: z.date(),
    /** Tickers the source itself gave (JSONL `tickers`); stored with confidence 1. */
    tickers: z.array(Ticker).default([]),
    metadata: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type NewsDraft = z.infer<typeof NewsDraft>;

/**
 * A JSONL line of an import file: `{published_at, title, body, url, tickers?, source}`. Outside
 * data, so unknown keys pass; what we need is checked field by field.
 */
export const JsonlNewsLine = z
  .object({
    published_at: z
      .string({ error: (iss) => (iss.input === undefined ? 'missing (every item needs a publication date)' : 'expected a date string') })
      .refine((s) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s)), 'not a valid ISO 8601 date'),
    title: z.string().trim().min(1, 'must not be empty').max(1000),
    body: z.string().max(200_000).nullish(),
    url: z.string({ error: (iss) => (iss.input === undefined ? 'missing' : 'expected a URL string') }),
    tickers: z.array(z.string().trim().toUpperCase().pipe(Ticker)).nullish(),
    source: z.string().trim().min(1).max(200).nullish(),
  })
  .passthrough();
export type JsonlNewsLine = z.infer<typeof JsonlNewsLine>;

/** A line of an import file that was rejected, with its 1-based line number. */
export const RejectedLine = z.object({ file: z.string(), line: z.number().int().positive(), error: z.string() }).strict();
export type RejectedLine = z.infer<typeof RejectedLine>;

/** What one store call did: new rows, and items already present (by canonical URL, guid or content hash). */
export const StoreResult = z
  .object({
    inserted: z.number().int().min(0),
    duplicates: z.number().int().min(0),
    ids: z.array(z.string()),
  })
  .strict();
export type StoreResult = z.infer<typeof StoreResult>;

export const FeedStatus = z.enum(['ok', 'not-modified', 'error']);
export type FeedStatus = z.infer<typeof FeedStatus>;

/** The outcome of polling one feed; a failing feed is reported here by name, never thrown. */
export const FeedPollResult = z
  .object({
    name: z.string(),
    url: z.string(),
    status: FeedStatus,
    /** HTTP attempts made (retries included). */
    attempts: z.number().int().min(0),
    fetched: z.number().int().min(0),
    inserted: z.number().int().min(0),
    duplicates: z.number().int().min(0),
    skipped: z.number().int().min(0),
    error: z.string().nullable(),
  })
  .strict();
export type FeedPollResult = z.infer<typeof FeedPollResult>;

/** The outcome of a file or directory import. */
export const ImportResult = z
  .object({
    files: z.array(z.string()),
    read: z.number().int().min(0),
    inserted: z.number().int().min(0),
    duplicates: z.number().int().min(0),
    rejected: z.array(RejectedLine),
    /** Items dropped as spam, by rule (tweets: see rag/tweets.ts spamReason); {} when none. */
    spam: z.record(z.string(), z.number().int().min(0)),
  })
  .strict();
export type ImportResult = z.infer<typeof ImportResult>;

/** Bounds of a search request; the committee's news tool passes agent input through this. */
export const MAX_SEARCH_K = 50;
export const MAX_QUERY_CHARS = 1000;

export const NewsSearchQuery = z
  .object({
    query: z.string().trim().min(1, 'must not be empty').max(MAX_QUERY_CHARS),
    /** Only news published at or before this instant is visible. */
    asOf: z.coerce.date().refine((d) => !Number.isNaN(d.getTime()), 'invalid date'),
    ticker: z.string().trim().toUpperCase().pipe(Ticker).nullish(),
    k: z.number().int().min(1).max(MAX_SEARCH_K).default(10),
  })
  .strict();
export type NewsSearchQuery = z.input<typeof NewsSearchQuery>;

export const ScoreParts = z
  .object({
    /** 1 - cosine distance to the query. */
    similarity: z.number(),
    /** Confidence of the requested ticker on this item (0 without a ticker filter). */
    tickerMatch: z.number().min(0).max(1),
    /** exp(-ln 2 * age / half-life), age measured from as-of. */
    recency: z.number().min(0).max(1),
  })
  .strict();
export type ScoreParts = z.infer<typeof ScoreParts>;

/** One retrieved item, as agents see it: `id` is the stable id they cite. */
export const NewsSearchResult = z
  .object({
    id: z.string(),
    title: z.string(),
    snippet: z.string(),
    publishedAt: z.string(),
    source: z.string(),
    url: z.string().nullable(),
    tickers: z.array(TickerMatch),
    sentiment: z.number().nullable(),
    score: z.number(),
    scores: ScoreParts,
  })
  .strict();
export type NewsSearchResult = z.infer<typeof NewsSearchResult>;
