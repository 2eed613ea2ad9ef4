/**
 * New York wall-clock time without Intl or a tz database: US daylight-saving rules by year are enough
 * for US equities (data from 1967 on). Dates are `YYYY-MM-DD` strings; instants are ISO strings in UTC.
 */
import { QuorumError } from '../contracts/errors.ts';

const DAY_MS = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses `YYYY-MM-DD` to UTC midnight milliseconds; throws INPUT_INVALID on anything else. */
export function dateToUtcMs(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m) throw new QuorumError('INPUT_INVALID', `expected a date like 1999-06-01, got "${date}"`, { date });
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (utcMsToDate(ms) !== date) throw new QuorumError('INPUT_INVALID', `not a calendar date: "${date}"`, { date });
  return ms;
}

/** UTC milliseconds to the `YYYY-MM-DD` of that UTC day. */
export function utcMsToDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `date` plus `days` calendar days. */
export function addDays(date: string, days: number): string {
  return utcMsToDate(dateToUtcMs(date) + days * DAY_MS);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(date: string): number {
  return new Date(dateToUtcMs(date)).getUTCDay();
}

/** The day of month of the n-th (1-based) `dow` weekday of a month; n = -1 means the last one. */
export function nthWeekday(year: number, month: number, dow: number, n: number): number {
  if (n > 0) {
    const first = new Date(Date.UTC(year, month - 1, 1)).getUTCDay();
    return 1 + ((dow - first + 7) % 7) + (n - 1) * 7;
  }
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const lastDow = new Date(Date.UTC(year, month - 1, lastDay)).getUTCDay();
  return lastDay - ((lastDow - dow + 7) % 7);
}

/** Local-time start and end days of US daylight saving time for `year` (switch at 02:00 local). */
function dstRange(year: number): { start: number; end: number } {
  if (year >= 2007) return { start: Date.UTC(year, 2, nthWeekday(year, 3, 0, 2)), end: Date.UTC(year, 10, nthWeekday(year, 11, 0, 1)) };
  if (year >= 1987) return { start: Date.UTC(year, 3, nthWeekday(year, 4, 0, 1)), end: Date.UTC(year, 9, nthWeekday(year, 10, 0, -1)) };
  // 1967-1986 rule (the 1974-75 energy-crisis exceptions are ignored).
  return { start: Date.UTC(year, 3, nthWeekday(year, 4, 0, -1)), end: Date.UTC(year, 9, nthWeekday(year, 10, 0, -1)) };
}

/**
 * New York's UTC offset in hours (-4 in EDT, -5 in EST) for a New York wall-clock time given as
 * `date` and minutes after midnight. The ambiguous/skipped hour at 02:00 follows the post-switch offset.
 */
export function newYorkOffsetHours(date: string, minutesLocal: number): number {
  const ms = dateToUtcMs(date);
  const year = Number(date.slice(0, 4));
  const { start, end } = dstRange(year);
  const localMs = ms + minutesLocal * 60_000;
  const inDst = localMs >= start + 2 * 3_600_000 && localMs < end + 2 * 3_600_000;
  return inDst ? -4 : -5;
}

/** The UTC instant (ISO) of a New York wall-clock time, e.g. (`1999-06-01`, 16:00) → `1999-06-01T20:00:00.000Z`. */
export function newYorkToUtc(date: string, hour: number, minute = 0): string {
  const minutes = hour * 60 + minute;
  const offset = newYorkOffsetHours(date, minutes);
  return new Date(dateToUtcMs(date) + (minutes - offset * 60) * 60_000).toISOString();
}

/** The New York calendar date and minutes after local midnight of a UTC instant. */
export function utcToNewYork(instant: string | Date): { date: string; minutes: number } {
  const ms = typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
  if (!Number.isFinite(ms)) throw new QuorumError('INPUT_INVALID', `not a timestamp: "${String(instant)}"`);
  // Try EST first, then EDT: whichever gives a local time consistent with its own offset.
  for (const offset of [-5, -4]) {
    const local = ms + offset * 3_600_000;
    const date = utcMsToDate(local);
    const minutes = Math.floor((local - dateToUtcMs(date)) / 60_000);
    if (newYorkOffsetHours(date, minutes) === offset) return { date, minutes };
  }
  const local = ms - 4 * 3_600_000;
  const date = utcMsToDate(local);
  return { date, minutes: Math.floor((local - dateToUtcMs(date)) / 60_000) };
}

/** The timestamp a daily bar of `date` carries: the 16:00 New York session close, in UTC. */
export function dailyBarTs(date: string): string {
  return newYorkToUtc(date, 16, 0);
}
