/**
 * The one check of a date a user gives (`quorum demo --date`, `backtest --from/--to`, `--as-of`, the
 * API's `asOf`) and of the bars a live session would run on: against the trading calendar and the
 * stored daily bars. A refusal is INPUT_INVALID naming the field, the date and the usable range.
 */
import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import { parseJson } from '../contracts/parse.ts';
import type { Queryable } from '../db/index.ts';
import { NYSE, closureReason, type TradingCalendar } from './calendar.ts';
import { addDays, dailyBarTs, newYorkToUtc, utcToNewYork, weekday } from './time.ts';

/**
 * What the date is for, which decides the last usable date:
 *  - `demo`, `session`: a session at a past time; its orders fill at the first bar after it, so that bar must be stored;
 *  - `backtest`, `critique`, `propose`: reads bars up to the date only; the last stored bar's day is usable;
 *  - `live`: a session at the wall clock; instead of a range, the newest bar must be fresh (`maxBarAgeTradingDays`).
 */
export const DatePurpose = z.enum(['demo', 'session', 'backtest', 'critique', 'propose', 'live']);
export type DatePurpose = z.infer<typeof DatePurpose>;

/** Warm-up wording when the caller gives none. */
export const DEFAULT_WARMUP_REASON = 'the feature warm-up';

export interface TradingDateOptions {
  purpose: DatePurpose;
  /** The input field the date came from, set as the error's `details.field` (`date`, `from`, `to`, `asOf`). */
  field: string;
  /** How the message names the field (default `field`), e.g. `--date`. */
  label?: string;
  /** Bars needed at or before the as-of instant (ml's WARMUP_BARS for features; a training window for backtests). */
  warmupBars: number;
  /** What the warm-up is for, in the message: "… 51 bars up to the day's close for <reason>" (default "the feature warm-up"). */
  warmupReason?: string;
  /** Only this ticker's bars count (a one-ticker critique); default every stored daily bar. */
  ticker?: string;
  /** New York time of day a plain `YYYY-MM-DD` means (default the 16:00 close), e.g. the demo's 12:30. */
  at?: { hour: number; minute: number };
  /** `live` only: trading-day closes the newest stored bar may lag behind the as-of (settings sessions.maxBarAgeTradingDays). */
  maxBarAgeTradingDays?: number;
  calendar?: TradingCalendar;
}

/** An accepted date, with the range it was checked against. */
export interface CheckedTradingDate {
  /** The as-of instant (ISO, UTC): a plain date means that day's 16:00 New York close. */
  asOf: string;
  /** Its New York date. */
  date: string;
  firstUsable: string;
  lastUsable: string;
  firstBar: string;
  lastBar: string;
  /** The close time of the first stored bar after the as-of (where a session's orders fill), or null. */
  nextBarTs: string | null;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const WEEKDAY_NAMES = ['a Sunday', 'a Monday', 'a Tuesday', 'a Wednesday', 'a Thursday', 'a Friday', 'a Saturday'] as const;

function invalid(message: string, details: Record<string, unknown>): QuorumError {
  return new QuorumError('INPUT_INVALID', message, details);
}

/**
 * The as-of instant of a user's date: `YYYY-MM-DD` is that day's close (or the New York time `at`);
 * anything else must be a timestamp.
 */
export function asOfInstant(value: string, field: string, label = field, at?: { hour: number; minute: number }): string {
  if (DATE_ONLY.test(value)) {
    try {
      return at ? newYorkToUtc(value, at.hour, at.minute) : dailyBarTs(value);
    } catch {
      throw invalid(`${label}: not a calendar date: "${value}"`, { field, date: value });
    }
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw invalid(`${label}: expected a date like 1999-06-01 or an ISO timestamp, got "${value}"`, { field, date: value });
  return new Date(ms).toISOString();
}

function dateOf(ts: string): string {
  return utcToNewYork(ts).date;
}

/** Why a closed day is closed, for the message: "a Saturday", "Good Friday", … */
function closedBecause(date: string, calendar: TradingCalendar): string {
  const reason = closureReason(date);
  if (reason === 'weekend') return WEEKDAY_NAMES[weekday(date)] ?? 'a weekend';
  if (reason) return reason;
  return `closed in the ${calendar.source} calendar`;
}

/** Trading-day closes in (afterTs, untilTs]: how many sessions ended without a newer bar. */
function closesBetween(afterTs: string, untilTs: string, calendar: TradingCalendar): number {
  const after = Date.parse(afterTs);
  const until = Date.parse(untilTs);
  let n = 0;
  for (let d = dateOf(afterTs), end = dateOf(untilTs); d <= end; d = addDays(d, 1)) {
    const close = calendar.session(d)?.close;
    if (close === undefined) continue;
    const ms = Date.parse(close);
    if (ms > after && ms <= until) n++;
  }
  return n;
}

/**
 * Checks a date against the calendar and the given stored bar close times (ascending, distinct,
 * ISO): the pure core of `checkTradingDate`, also used by the backtest over its in-memory prices.
 *
 * Refuses, in this order: no bars at all; a date before the first usable date (the first stored bar
 * plus the warm-up) or after the last stored bar; for a session, a time with no stored bar after it
 * to fill at; a day that is no trading day (naming the previous and next). `live` refuses a day that
 * is no trading day and a newest bar more than `maxBarAgeTradingDays` trading-day closes old.
 */
export function checkTradingDateIn(barTimes: readonly string[], value: string, options: TradingDateOptions): CheckedTradingDate {
  const { purpose, field } = options;
  const label = options.label ?? field;
  const calendar = options.calendar ?? NYSE;
  const warmup = Math.max(1, Math.floor(options.warmupBars));
  const reason = options.warmupReason ?? DEFAULT_WARMUP_REASON;
  const of = options.ticker ? ` of ${options.ticker}` : '';
  const asOf = asOfInstant(value, field, label, options.at);
  const date = dateOf(asOf);
  // A date (or a day's close, as callers turn dates into) is shown as the date, any other time as given.
  const shown = DATE_ONLY.test(value) || purpose === 'live' || asOf === dailyBarTs(date) ? date : asOf;
  const details = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    field,
    date,
    asOf,
    purpose,
    ...(options.ticker ? { ticker: options.ticker } : {}),
    ...extra,
  });

  const n = barTimes.length;
  const first = barTimes[0];
  const last = barTimes[n - 1];
  if (first === undefined || last === undefined) {
    const load = options.ticker
      ? `quorum ingest prices <csv> --ticker ${options.ticker}, or a wide CSV`
      : 'quorum ingest prices <csv>, or quorum demo, which imports the bundled prices';
    throw invalid(`no bars${options.ticker ? ` for ${options.ticker}` : ''} are stored: load prices first (${load})`, {
      ...details(),
      field: options.ticker ? 'ticker' : field,
    });
  }
  const firstBar = dateOf(first);
  const lastBar = dateOf(last);

  // Intraday (before that day's close) sees only the bars of earlier days: its warm-up ends one bar later.
  const close = calendar.session(date)?.close ?? dailyBarTs(date);
  const intraday = Date.parse(asOf) < Date.parse(close);
  const needsNextBar = purpose === 'demo' || purpose === 'session';
  const firstIdx = intraday ? warmup : warmup - 1;
  const lastIdx = needsNextBar && !intraday ? n - 2 : n - 1;
  const firstTs = barTimes[firstIdx];
  const lastTs = lastIdx >= 0 ? barTimes[lastIdx] : undefined;
  const firstUsable = firstTs === undefined ? null : dateOf(firstTs);
  const lastUsable = lastTs === undefined ? null : dateOf(lastTs);
  const lastText = lastUsable === lastBar ? `the last stored bar${of} is ${lastBar}` : `the last stored bar${of} is ${lastBar}, where its orders would fill`;
  const range =
    firstUsable && lastUsable && firstUsable <= lastUsable
      ? `available dates: ${firstUsable}..${lastUsable} (from the first stored bar${of} ${firstBar}, ${warmup} bars ${intraday ? 'before the day' : "up to the day's close"} for ${reason}; ${lastText})`
      : `no date is usable: ${n} stored bar(s)${of} from ${firstBar} to ${lastBar}, and ${reason} needs ${warmup}${needsNextBar ? ' plus one to fill at' : ''}`;
  const rangeDetails = { firstUsable, lastUsable, firstBar, lastBar };
  if (!firstUsable || !lastUsable || firstUsable > lastUsable) throw invalid(`${label} ${shown}: ${range}`, details(rangeDetails));

  const nextIdx = barTimes.findIndex((t) => Date.parse(t) > Date.parse(asOf));
  const nextBarTs = nextIdx >= 0 ? (barTimes[nextIdx] ?? null) : null;

  if (purpose === 'live') {
    if (!calendar.isTradingDay(date)) {
      throw invalid(
        `now (${asOf}) is not a trading day (${closedBecause(date, calendar)}): a live session runs on trading days; the previous one was ${calendar.previousTradingDay(date)}, the next is ${calendar.nextTradingDay(date)}`,
        details({ ...rangeDetails, previousTradingDay: calendar.previousTradingDay(date), nextTradingDay: calendar.nextTradingDay(date) }),
      );
    }
    const maxAge = options.maxBarAgeTradingDays ?? 1;
    const seen = barTimes.filter((t) => Date.parse(t) <= Date.parse(asOf)).length;
    if (seen < warmup)
      throw invalid(`now (${asOf}): only ${seen} stored bar(s)${of} at or before it, ${reason} needs ${warmup}; ${range}`, details(rangeDetails));
    const newest = barTimes[seen - 1] ?? last;
    const age = closesBetween(newest, asOf, calendar);
    if (age > maxAge) {
      throw invalid(
        `the newest stored bar${of} is from ${dateOf(newest)}, ${age.toLocaleString('en-US')} trading-day close(s) before now (${asOf}); a live session runs only on bars at most ${maxAge} trading day(s) old (settings.yaml sessions.maxBarAgeTradingDays): ingest fresh prices (quorum ingest prices alpaca --tickers … --from … --to …), or run at a past time with --as-of; ${range}`,
        details({ ...rangeDetails, newestBar: dateOf(newest), ageTradingDays: age, maxBarAgeTradingDays: maxAge }),
      );
    }
    return { asOf, date, firstUsable, lastUsable, firstBar, lastBar, nextBarTs };
  }

  if (date < firstUsable) {
    throw invalid(`${label} ${shown} is before the first usable date ${firstUsable}; ${range}`, details(rangeDetails));
  }
  if (date > lastBar) throw invalid(`${label} ${shown} is after the last stored bar${of} ${lastBar}; ${range}`, details(rangeDetails));
  if (needsNextBar && nextBarTs === null) throw invalid(`${label} ${shown} has no stored bar after it to fill its orders at; ${range}`, details(rangeDetails));
  if (!calendar.isTradingDay(date)) {
    const previous = calendar.previousTradingDay(date);
    const next = calendar.nextTradingDay(date);
    throw invalid(
      `${label} ${shown} is not a trading day (${closedBecause(date, calendar)}): the previous trading day is ${previous}, the next ${next}; ${range}`,
      details({ ...rangeDetails, previousTradingDay: previous, nextTradingDay: next }),
    );
  }
  return { asOf, date, firstUsable, lastUsable, firstBar, lastBar, nextBarTs };
}

const Times = z.array(z.number());

/** Close times (ISO, ascending, distinct) of the stored daily bars, of one ticker or of all. */
export async function storedBarTimes(q: Queryable, ticker?: string, timeframe = '1Day'): Promise<string[]> {
  // One JSON value instead of a row per bar: a few thousand timestamps for a decade of daily bars.
  const res = await q.query(
    `SELECT coalesce(json_agg(t ORDER BY t), '[]')::text AS times
       FROM (SELECT DISTINCT floor(extract(epoch FROM ts) * 1000)::float8 AS t FROM bars
              WHERE timeframe = $1 AND ($2::text IS NULL OR ticker = $2)) d`,
    [timeframe, ticker ?? null],
  );
  const text = z.object({ times: z.string() }).parse(res.rows[0]).times;
  const json = parseJson(text);
  if (!json.ok) throw new QuorumError('INTERNAL', `bar times: ${json.error}`);
  return Times.parse(json.value).map((ms) => new Date(ms).toISOString());
}

/**
 * Checks a date a user gave (or, for `live`, the wall clock) against the trading calendar and the
 * stored daily bars; see `checkTradingDateIn` for what is refused. Returns the as-of instant and the
 * range it was checked against.
 */
export async function checkTradingDate(q: Queryable, value: string, options: TradingDateOptions): Promise<CheckedTradingDate> {
  return checkTradingDateIn(await storedBarTimes(q, options.ticker), value, options);
}
