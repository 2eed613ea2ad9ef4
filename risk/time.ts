/**
 * Pure time helpers. risk/ never reads the clock: every function takes the instant it needs.
 * The US Eastern offset is computed from the DST rules instead of `Intl` because the controller
 * calls it for every recent order time and must stay fast (see bench/risk.bench.ts).
 */
import { QuorumError } from '../contracts/errors.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function daysInMonth(year: number, month: number): number {
  if (month === 2 && ((year % 4 === 0 && year % 100 !== 0) || year % 400 === 0)) return 29;
  return MONTH_DAYS[month - 1] ?? 0;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). Plain
 * arithmetic: Date.UTC cost a third of isoMs, and it reads years 0-99 as 1900-1999.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** Two decimal digits at `i` as a number, NaN when either is not a digit. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  // A digit d has d >= 0 and 9 - d >= 0: every other character makes the OR negative.
  return (a | (9 - a) | b | (9 - b)) < 0 ? Number.NaN : a * 10 + b;
}

/**
 * Milliseconds of an ISO-8601 timestamp, or NaN when it does not parse. The common shapes
 * (`YYYY-MM-DDTHH:MM:SS[.fff]Z` and `...±HH:MM`) are read by hand because Date.parse dominated the
 * controller's profile; other zone shapes fall back to Date.parse. Impossible dates (30 February) are NaN.
 */
export function isoMs(iso: string): number {
  const n = iso.length;
  if (
    n >= 20 &&
    iso.charCodeAt(4) === 45 &&
    iso.charCodeAt(7) === 45 &&
    (iso.charCodeAt(10) === 84 || iso.charCodeAt(10) === 116) &&
    iso.charCodeAt(13) === 58 &&
    iso.charCodeAt(16) === 58
  ) {
    // The fourteen digits of YYYY-MM-DDTHH:MM:SS, checked at once: one that is not a digit means NaN.
    const y0 = iso.charCodeAt(0) - 48;
    const y1 = iso.charCodeAt(1) - 48;
    const y2 = iso.charCodeAt(2) - 48;
    const y3 = iso.charCodeAt(3) - 48;
    const mo0 = iso.charCodeAt(5) - 48;
    const mo1 = iso.charCodeAt(6) - 48;
    const d0 = iso.charCodeAt(8) - 48;
    const d1 = iso.charCodeAt(9) - 48;
    const h0 = iso.charCodeAt(11) - 48;
    const h1 = iso.charCodeAt(12) - 48;
    const mi0 = iso.charCodeAt(14) - 48;
    const mi1 = iso.charCodeAt(15) - 48;
    const s0 = iso.charCodeAt(17) - 48;
    const s1 = iso.charCodeAt(18) - 48;
    const digits =
      y0 |
      (9 - y0) |
      y1 |
      (9 - y1) |
      y2 |
      (9 - y2) |
      y3 |
      (9 - y3) |
      mo0 |
      (9 - mo0) |
      mo1 |
      (9 - mo1) |
      d0 |
      (9 - d0) |
      d1 |
      (9 - d1) |
      h0 |
      (9 - h0) |
      h1 |
      (9 - h1) |
      mi0 |
      (9 - mi0) |
      mi1 |
      (9 - mi1) |
      s0 |
      (9 - s0) |
      s1 |
      (9 - s1);
    if (digits < 0) return Number.NaN;
    const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
    const month = mo0 * 10 + mo1;
    const day = d0 * 10 + d1;
    const hour = h0 * 10 + h1;
    const minute = mi0 * 10 + mi1;
    const second = s0 * 10 + s1;
    let i = 19;
    let ms = 0;
    if (iso.charCodeAt(i) === 46) {
      i += 1;
      let scale = 100;
      while (i < n && iso.charCodeAt(i) >= 48 && iso.charCodeAt(i) <= 57) {
        ms += (iso.charCodeAt(i) - 48) * scale;
        scale /= 10;
        i += 1;
      }
    }
    let offset = Number.NaN;
    const c = iso.charCodeAt(i);
    if ((c === 90 || c === 122) && i === n - 1) offset = 0;
    else if ((c === 43 || c === 45) && i === n - 6 && iso.charCodeAt(i + 3) === 58) {
      offset = (c === 45 ? -1 : 1) * (two(iso, i + 1) * 60 + two(iso, i + 4)) * 60_000;
    }
    const valid = month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 59;
    // Date.parse (and Date.UTC) roll 2024-02-30 over to March; we call such a date invalid.
    if (!valid || day > daysInMonth(year, month)) return Number.NaN;
    if (Number.isFinite(offset)) return daysFromCivil(year, month, day) * DAY_MS + hour * HOUR_MS + minute * 60_000 + second * 1000 + Math.floor(ms) - offset;
  }
  return Date.parse(iso);
}

/** Milliseconds of `now`; a `now` that does not parse is a programming error, not a market condition. */
export function nowMs(now: string): number {
  const ms = typeof now === 'string' ? isoMs(now) : Number.NaN;
  if (!Number.isFinite(ms)) throw new QuorumError('INPUT_INVALID', `now: expected an ISO-8601 timestamp (got ${JSON.stringify(now)})`, { field: 'now' });
  return ms;
}

function nthSundayUtc(year: number, month: number, n: number): number {
  const weekday = new Date(Date.UTC(year, month, 1)).getUTCDay();
  return Date.UTC(year, month, 1 + ((7 - weekday) % 7) + 7 * (n - 1));
}

function lastSundayUtc(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0));
  return Date.UTC(year, month, last.getUTCDate() - last.getUTCDay());
}

/** [start, end) of US Eastern daylight time in `year`, in UTC milliseconds (2 am local each way). */
function dstWindow(year: number): readonly [number, number] {
  // Energy Policy Act 2005 rules from 2007; 1987-2006: first Sunday of April to last Sunday of October;
  // earlier years use the 1976-1986 rule (last Sunday of April), close enough for the bundled data.
  let start: number;
  let end: number;
  if (year >= 2007) {
    start = nthSundayUtc(year, 2, 2);
    end = nthSundayUtc(year, 10, 1);
  } else if (year >= 1987) {
    start = nthSundayUtc(year, 3, 1);
    end = lastSundayUtc(year, 9);
  } else {
    start = lastSundayUtc(year, 3);
    end = lastSundayUtc(year, 9);
  }
  // 02:00 EST = 07:00 UTC when DST starts; 02:00 EDT = 06:00 UTC when it ends.
  return [start + 7 * HOUR_MS, end + 6 * HOUR_MS];
}

/** The last year looked up (a pure memo: nearly every call in a decision is in the same year). */
let cached = { from: 0, to: -1, dstStart: 0, dstEnd: 0 };

/** UTC offset of US Eastern time (America/New_York) at `ms`, in milliseconds (-4 h or -5 h). */
export function easternOffsetMs(ms: number): number {
  if (!(ms >= cached.from && ms < cached.to)) {
    const year = new Date(ms).getUTCFullYear();
    const [dstStart, dstEnd] = dstWindow(year);
    cached = { from: Date.UTC(year, 0, 1), to: Date.UTC(year + 1, 0, 1), dstStart, dstEnd };
  }
  return ms >= cached.dstStart && ms < cached.dstEnd ? -4 * HOUR_MS : -5 * HOUR_MS;
}

/** The exchange's calendar day of `ms` as a day number (days since 1970-01-01 in US Eastern time). */
export function easternDay(ms: number): number {
  return Math.floor((ms + easternOffsetMs(ms)) / DAY_MS);
}

/** The first millisecond of New York calendar day `day` (as numbered by easternDay). */
export function easternDayStartMs(day: number): number {
  // Midnight is 05:00 UTC in standard time and 04:00 UTC in daylight time (DST switches at 2 am).
  const standard = day * DAY_MS + 5 * HOUR_MS;
  return easternDay(standard - HOUR_MS) === day ? standard - HOUR_MS : standard;
}
