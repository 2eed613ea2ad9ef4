/**
 * Tweets as news items: the StockNet 2014 JSONL shape, one `{id, ticker, published_at, text, lang,
 * user_followers}` per line (data/samples/stocknet-2014/tweets.jsonl.gz). A tweet collected for
 * several tickers appears once per ticker; those lines become ONE item whose `provided` tickers are
 * all the collected ones (confidence 1); other cashtags in the text are tagged as found (0.95).
 * Obvious spam is dropped by a documented rule and counted, never silently (see `spamReason`).
 */
import { z } from 'zod';
import { forEachJsonLine } from './jsonl.ts';
import { Ticker, type NewsDraft, type RejectedLine } from './schema.ts';

/** The `source` of every tweet item. */
export const TWEET_SOURCE = 'twitter';
/** A tweet naming at least this many distinct cashtags is a ticker list (promotion), not news about one stock. */
export const SPAM_MIN_CASHTAGS = 4;

const CASHTAG = /(?<![\w$])\$([A-Z]{1,5}(?:\.[A-Z]{1,2})?)(?!\w)/g;

/** Why a tweet is spam, or null. The one rule: SPAM_MIN_CASHTAGS or more distinct cashtags ("cashtag-list"). */
export function spamReason(text: string): 'cashtag-list' | null {
  const tags = new Set<string>();
  for (const m of text.matchAll(CASHTAG)) tags.add(m[1] ?? '');
  return tags.size >= SPAM_MIN_CASHTAGS ? 'cashtag-list' : null;
}

/** One line of a tweets file. Outside data: unknown keys pass; what is used is checked field by field. */
export const TweetLine = z
  .object({
    id: z.string({ error: (iss) => (iss.input === undefined ? 'missing' : 'expected the tweet id as a string') }).regex(/^\d{1,25}$/, 'expected digits'),
    ticker: z.string().trim().toUpperCase().pipe(Ticker),
    published_at: z
      .string({ error: (iss) => (iss.input === undefined ? 'missing (every tweet needs its time)' : 'expected a date-time string') })
      .refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)), {
        message: 'expected an ISO 8601 date-time with a zone, to the second (e.g. 2014-06-02T20:15:07Z)',
      }),
    text: z.string().trim().min(1, 'must not be empty').max(1000),
    lang: z.string().max(20).nullish(),
    user_followers: z.number().int().min(0).nullish(),
  })
  .passthrough();
export type TweetLine = z.infer<typeof TweetLine>;

const ENTITIES: Readonly<Record<string, string>> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/** Tweet text as Twitter's API gives it escapes &, < and >: decode those few entities, nothing else. */
export function decodeTweetText(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m] ?? m);
}

/** True when a parsed JSON line looks like a tweet (has `text` and `id`, no `title`): picks the parser of a JSONL file. */
export function isTweetShaped(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'text' in value && 'id' in value && !('title' in value);
}

/** The public address of a tweet by id (works without the author's handle). */
export function tweetUrl(id: string): string {
  return `https://twitter.com/i/web/status/${id}`;
}

export interface ParsedTweets {
  drafts: NewsDraft[];
  rejected: RejectedLine[];
  /** Lines dropped as spam, by rule. */
  spam: Record<string, number>;
  /** Lines of a tweet already read for another ticker (merged into its item). */
  merged: number;
}

/**
 * Parses a tweets JSONL text. Rejected lines carry their 1-based line number and the field; lines of
 * the same id merge (their tickers united); spam is dropped and counted unless `keepSpam`.
 */
export function parseTweetsJsonl(text: string, file: string, options: { keepSpam?: boolean } = {}): ParsedTweets {
  const byId = new Map<string, NewsDraft>();
  const rejected: RejectedLine[] = [];
  const spam: Record<string, number> = {};
  let merged = 0;
  forEachJsonLine(text, file, TweetLine, rejected, (line) => {
    const t = { ...line, text: decodeTweetText(line.text) };
    const reason = options.keepSpam ? null : spamReason(t.text);
    if (reason) {
      spam[reason] = (spam[reason] ?? 0) + 1;
      return;
    }
    const seen = byId.get(t.id);
    if (seen) {
      merged++;
      if (!seen.tickers.includes(t.ticker)) seen.tickers.push(t.ticker);
      return;
    }
    byId.set(t.id, {
      source: TWEET_SOURCE,
      guid: t.id,
      url: tweetUrl(t.id),
      title: t.text,
      body: '',
      publishedAt: new Date(t.published_at),
      tickers: [t.ticker],
      metadata: { file, lang: t.lang ?? null, userFollowers: t.user_followers ?? null },
    });
  });
  return { drafts: [...byId.values()], rejected, spam, merged };
}
