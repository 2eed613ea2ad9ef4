/**
 * A live session's first step: bring its inputs up to the session time, then judge whether they are
 * fresh enough to trade on. Bars come from the Alpaca data API when keys are set (else what is stored:
 * the bundled files, `quorum ingest prices`); news from the configured feeds. Each source is bounded by
 * a timeout and a failure is recorded, not thrown: a session that could not refresh, or finds its data
 * stale, is stored as skipped with the reason in its report, and trades nothing.
 */
import { z } from 'zod';
import { QuorumError, errorMessage } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { checkProposalDate } from '../ml/index.ts';

export const BarRefresh = z
  .object({
    /** `alpaca`: fetched from the data API; `stored`: no source configured, the stored bars as they are. */
    source: z.enum(['alpaca', 'stored']),
    /** Bars written by this refresh (0 for `stored`). */
    stored: z.number().int().min(0),
    /** Newest stored bar of the session's tickers at or before the session time, after the refresh. */
    newest: z.string().nullable(),
    error: z.string().nullable(),
  })
  .strict();

export const NewsRefresh = z
  .object({
    /** Feeds polled (settings news.feeds). */
    feeds: z.number().int().min(0),
    /** New items stored by this refresh. */
    inserted: z.number().int().min(0),
    /** Newest stored item published at or before the session time. */
    newest: z.string().nullable(),
    /** One line per feed that failed. */
    errors: z.array(z.string()),
  })
  .strict();

/** What a live session fetched before it proposed, stored with the session (sessions.inputs). */
export const InputRefresh = z.object({ bars: BarRefresh, news: NewsRefresh, ms: z.number().min(0) }).strict();
export type InputRefresh = z.infer<typeof InputRefresh>;

/** Where fresh inputs come from; buildSessionEnv wires the configured ones. */
export interface InputSources {
  /** Stores daily bars of `tickers` from `from` to `to` (dates); returns how many were written. */
  fetchBars?: (tickers: readonly string[], from: string, to: string) => Promise<number>;
  /** Polls every configured feed once; each result names its feed and error. */
  pollNews?: () => Promise<Array<{ name: string; inserted: number; error: string | null }>>;
  /** Feeds configured (0: news is not refreshed and its age not checked). */
  feeds: number;
}

export interface FreshnessLimits {
  /** settings sessions.maxBarAgeTradingDays. */
  maxBarAgeTradingDays: number;
  /** settings sessions.maxNewsAgeHours, checked only when feeds are configured. */
  maxNewsAgeHours: number;
}

/** Rejects after `ms` (the work itself is left to finish or fail on its own; its result is ignored). */
async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms (settings.yaml sessions.refreshTimeoutMs)`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const Newest = z.object({ newest: z.union([z.date(), z.string()]).nullable() });
const isoOf = (v: Date | string | null): string | null => (v === null ? null : new Date(v).toISOString());

async function newestBar(db: Db, tickers: readonly string[], asOf: string): Promise<string | null> {
  const res = await db.query(`SELECT max(ts) AS newest FROM bars WHERE timeframe = '1Day' AND ticker = ANY($1::text[]) AND ts <= $2`, [tickers, asOf]);
  return isoOf(Newest.parse(res.rows[0] ?? { newest: null }).newest);
}

async function newestNews(db: Db, asOf: string): Promise<string | null> {
  const res = await db.query('SELECT max(published_at) AS newest FROM news_items WHERE published_at <= $1', [asOf]);
  return isoOf(Newest.parse(res.rows[0] ?? { newest: null }).newest);
}

const DAY_MS = 86_400_000;
/** Calendar days fetched before the newest stored bar (holidays, a late correction); a ticker with no bars gets this many years. */
const OVERLAP_DAYS = 7;
const FIRST_FETCH_DAYS = 2 * 365;

/** Fetches bars and news up to `asOf` (each bounded by `timeoutMs`) and reports what is stored now. */
export async function refreshInputs(
  db: Db,
  sources: InputSources,
  options: { asOf: string; tickers: readonly string[]; timeoutMs: number },
): Promise<InputRefresh> {
  const started = performance.now();
  const { asOf, tickers, timeoutMs } = options;
  const before = await newestBar(db, tickers, asOf);
  let bars: InputRefresh['bars'] = { source: 'stored', stored: 0, newest: before, error: null };
  if (sources.fetchBars) {
    const fromMs = before ? Date.parse(before) - OVERLAP_DAYS * DAY_MS : Date.parse(asOf) - FIRST_FETCH_DAYS * DAY_MS;
    const from = new Date(fromMs).toISOString().slice(0, 10);
    try {
      const stored = await withTimeout(sources.fetchBars(tickers, from, asOf.slice(0, 10)), timeoutMs, 'bar refresh');
      bars = { source: 'alpaca', stored, newest: await newestBar(db, tickers, asOf), error: null };
    } catch (error) {
      bars = { source: 'alpaca', stored: 0, newest: before, error: errorMessage(error) };
    }
  }
  let news: InputRefresh['news'] = { feeds: sources.feeds, inserted: 0, newest: null, errors: [] };
  if (sources.pollNews && sources.feeds > 0) {
    try {
      const results = await withTimeout(sources.pollNews(), timeoutMs, 'news refresh');
      news = {
        ...news,
        inserted: results.reduce((n, r) => n + r.inserted, 0),
        errors: results.filter((r) => r.error !== null).map((r) => `${r.name}: ${r.error ?? ''}`),
      };
    } catch (error) {
      news = { ...news, errors: [errorMessage(error)] };
    }
  }
  news.newest = await newestNews(db, asOf);
  return { bars, news, ms: Math.round(performance.now() - started) };
}

/**
 * Why a live session must not trade on these inputs, or null when it may: the bars could not be
 * refreshed, or the newest is older than sessions.maxBarAgeTradingDays (or the time is no trading
 * day); with feeds configured, every feed failed or the newest item is older than sessions.maxNewsAgeHours.
 */
export async function staleReason(db: Db, refresh: InputRefresh, options: { asOf: string; label: string; limits: FreshnessLimits }): Promise<string | null> {
  const { asOf, limits } = options;
  if (refresh.bars.error) return `bars could not be refreshed: ${refresh.bars.error}`;
  try {
    await checkProposalDate(db, asOf, { purpose: 'live', field: 'asOf', label: options.label, maxBarAgeTradingDays: limits.maxBarAgeTradingDays });
  } catch (error) {
    if (QuorumError.isInstance(error)) return `bars: ${error.message}`;
    throw error;
  }
  if (refresh.news.feeds === 0) return null;
  if (refresh.news.errors.length === refresh.news.feeds) return `news could not be refreshed: ${refresh.news.errors.join('; ')}`;
  const newest = refresh.news.newest;
  if (newest === null) return 'stale news: no news item is stored from before the session time (settings.yaml news.feeds)';
  const ageHours = (Date.parse(asOf) - Date.parse(newest)) / 3_600_000;
  if (ageHours > limits.maxNewsAgeHours) {
    return `stale news: the newest item (${newest}) is ${ageHours.toFixed(1)} h old, more than ${limits.maxNewsAgeHours} h (settings.yaml sessions.maxNewsAgeHours)`;
  }
  return null;
}
