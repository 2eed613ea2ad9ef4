/**
 * NYSE trading calendar: weekends, rule-based holidays for any year, the historical unscheduled
 * closures, and the regular 13:00 early closes. When Alpaca keys are set, Alpaca's calendar can replace
 * the rules for the dates it covers (see `TradingCalendar.withSessions` and market/alpaca.ts).
 */
import { QuorumError } from '../contracts/errors.ts';
import { addDays, dateToUtcMs, newYorkToUtc, nthWeekday, utcMsToDate, utcToNewYork, weekday } from './time.ts';

/** Regular session: 09:30-16:00 New York. */
export const REGULAR_OPEN = { hour: 9, minute: 30 } as const;
export const REGULAR_CLOSE = { hour: 16, minute: 0 } as const;
/** Early close (day after Thanksgiving, Christmas Eve, July 3). */
export const EARLY_CLOSE = { hour: 13, minute: 0 } as const;

/**
 * Closures not given by the holiday rules: weather, national mourning, 9/11.
 * Sources: NYSE historical closings list.
 */
export const SPECIAL_CLOSURES: Readonly<Record<string, string>> = {
  '1985-09-27': 'Hurricane Gloria',
  '1994-04-27': 'National day of mourning, President Nixon',
  '2001-09-11': 'September 11 attacks',
  '2001-09-12': 'September 11 attacks',
  '2001-09-13': 'September 11 attacks',
  '2001-09-14': 'September 11 attacks',
  '2004-06-11': 'National day of mourning, President Reagan',
  '2007-01-02': 'National day of mourning, President Ford',
  '2012-10-29': 'Hurricane Sandy',
  '2012-10-30': 'Hurricane Sandy',
  '2018-12-05': 'National day of mourning, President G. H. W. Bush',
  '2025-01-09': 'National day of mourning, President Carter',
};

/** One session: New York date, open and close instants in UTC. */
export interface Session {
  date: string;
  open: string;
  close: string;
  earlyClose: boolean;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function ymd(year: number, month: number, day: number): string {
  return `${year}-${pad(month)}-${pad(day)}`;
}

/** Easter Sunday (Gregorian, anonymous algorithm). */
export function easterSunday(year: number): string {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return ymd(year, month, day);
}

/** Saturday holidays move to Friday, Sunday ones to Monday. */
function observed(date: string): string {
  const dow = weekday(date);
  if (dow === 6) return addDays(date, -1);
  if (dow === 0) return addDays(date, 1);
  return date;
}

/** NYSE full-day holidays of `year` by rule (date → name). */
export function nyseHolidays(year: number): Map<string, string> {
  const h = new Map<string, string>();
  // New Year's Day on a Saturday is not observed on the Friday before (NYSE rule 7.2).
  const ny = ymd(year, 1, 1);
  if (weekday(ny) !== 6) h.set(observed(ny), "New Year's Day");
  if (year >= 1998) h.set(ymd(year, 1, nthWeekday(year, 1, 1, 3)), 'Martin Luther King Jr. Day');
  h.set(year >= 1971 ? ymd(year, 2, nthWeekday(year, 2, 1, 3)) : observed(ymd(year, 2, 22)), "Washington's Birthday");
  h.set(addDays(easterSunday(year), -2), 'Good Friday');
  h.set(year >= 1971 ? ymd(year, 5, nthWeekday(year, 5, 1, -1)) : observed(ymd(year, 5, 30)), 'Memorial Day');
  if (year >= 2022) h.set(observed(ymd(year, 6, 19)), 'Juneteenth');
  h.set(observed(ymd(year, 7, 4)), 'Independence Day');
  h.set(ymd(year, 9, nthWeekday(year, 9, 1, 1)), 'Labor Day');
  h.set(ymd(year, 11, nthWeekday(year, 11, 4, 4)), 'Thanksgiving Day');
  h.set(observed(ymd(year, 12, 25)), 'Christmas Day');
  // A Saturday New Year's Day of next year is not observed, but a Dec 31 holiday never arises otherwise.
  return h;
}

const holidayCache = new Map<number, Map<string, string>>();
function holidaysOf(year: number): Map<string, string> {
  let h = holidayCache.get(year);
  if (!h) {
    h = nyseHolidays(year);
    holidayCache.set(year, h);
  }
  return h;
}

/** Why `date` has no session under the built-in rules, or null when it is a trading day. */
export function closureReason(date: string): string | null {
  const dow = weekday(date);
  if (dow === 0 || dow === 6) return 'weekend';
  const special = SPECIAL_CLOSURES[date];
  if (special) return special;
  return holidaysOf(Number(date.slice(0, 4))).get(date) ?? null;
}

/** Regular early closes (13:00): July 3, the day after Thanksgiving, Christmas Eve (modern NYSE rules). */
function isEarlyClose(date: string): boolean {
  const year = Number(date.slice(0, 4));
  const md = date.slice(5);
  if (md === '07-03' || md === '12-24') return true;
  return date === addDays(ymd(year, 11, nthWeekday(year, 11, 4, 4)), 1);
}

function ruleSession(date: string): Session | null {
  if (closureReason(date) !== null) return null;
  const early = isEarlyClose(date);
  const close = early ? EARLY_CLOSE : REGULAR_CLOSE;
  return {
    date,
    open: newYorkToUtc(date, REGULAR_OPEN.hour, REGULAR_OPEN.minute),
    close: newYorkToUtc(date, close.hour, close.minute),
    earlyClose: early,
  };
}

/** How far nextTradingDay/previousTradingDay look before giving up (no real calendar has such gaps). */
const MAX_SCAN_DAYS = 30;

/**
 * A trading calendar: the built-in NYSE rules, optionally overridden by explicit sessions (e.g. from
 * Alpaca) for the dates those sessions cover.
 */
export class TradingCalendar {
  private constructor(
    private readonly overrides: ReadonlyMap<string, Session | null>,
    readonly source: string,
  ) {}

  /** The built-in NYSE rules. */
  static builtIn(): TradingCalendar {
    return new TradingCalendar(new Map(), 'nyse-rules');
  }

  /**
   * Uses `sessions` for every date in [from, to]: a date in that range without a session is closed.
   * Dates outside the range fall back to the built-in rules.
   */
  static withSessions(sessions: readonly Session[], from: string, to: string, source = 'alpaca'): TradingCalendar {
    const map = new Map<string, Session | null>();
    for (let d = from; d <= to; d = addDays(d, 1)) map.set(d, null);
    for (const s of sessions) if (s.date >= from && s.date <= to) map.set(s.date, s);
    return new TradingCalendar(map, source);
  }

  /** The session of `date`, or null when the exchange is closed that day. */
  session(date: string): Session | null {
    dateToUtcMs(date);
    if (this.overrides.has(date)) return this.overrides.get(date) ?? null;
    return ruleSession(date);
  }

  isTradingDay(date: string): boolean {
    return this.session(date) !== null;
  }

  /** The first trading day strictly after `date`. */
  nextTradingDay(date: string): string {
    return this.scan(date, 1);
  }

  /** The last trading day strictly before `date`. */
  previousTradingDay(date: string): string {
    return this.scan(date, -1);
  }

  /** Whether the regular session is open at `instant` (open inclusive, close exclusive). */
  isMarketOpen(instant: string | Date): boolean {
    const ms = typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
    const s = this.session(utcToNewYork(instant).date);
    return s !== null && ms >= Date.parse(s.open) && ms < Date.parse(s.close);
  }

  private scan(date: string, step: 1 | -1): string {
    let d = date;
    for (let i = 0; i < MAX_SCAN_DAYS; i++) {
      d = addDays(d, step);
      if (this.isTradingDay(d)) return d;
    }
    throw new QuorumError('INTERNAL', `no trading day within ${MAX_SCAN_DAYS} days of ${date}`, { date });
  }
}

/** The built-in NYSE calendar. */
export const NYSE = TradingCalendar.builtIn();

/** Whether `date` (YYYY-MM-DD, New York) has a NYSE session. */
export function isTradingDay(date: string): boolean {
  return NYSE.isTradingDay(date);
}

/** The first NYSE trading day after `date`. */
export function nextTradingDay(date: string): string {
  return NYSE.nextTradingDay(date);
}

/** The last NYSE trading day before `date`. */
export function previousTradingDay(date: string): string {
  return NYSE.previousTradingDay(date);
}

/** The NYSE session (open and close in UTC) of `date`, or null when closed. */
export function sessionOpenClose(date: string): Session | null {
  return NYSE.session(date);
}

/** The UTC close instant of `date`'s NYSE session, or null when closed. */
export function sessionClose(date: string): string | null {
  return NYSE.session(date)?.close ?? null;
}

/** Whether the NYSE regular session is open at `instant`. */
export function isMarketOpen(instant: string | Date): boolean {
  return NYSE.isMarketOpen(instant);
}

/** Every NYSE trading day in [from, to]. */
export function tradingDays(from: string, to: string, calendar: TradingCalendar = NYSE): string[] {
  const out: string[] = [];
  for (let ms = dateToUtcMs(from), end = dateToUtcMs(to); ms <= end; ms += 86_400_000) {
    const d = utcMsToDate(ms);
    if (calendar.isTradingDay(d)) out.push(d);
  }
  return out;
}

/**
 * The NYSE trading day whose session an item published at `instant` can first inform: that New York
 * date when it is a trading day and the item came before its close (pre-open included), else the next
 * trading day. A tweet posted at 16:00:01 after the close is evidence for the next session only; a
 * point-in-time search as of any moment of that next session (published_at <= as-of) sees it, and no
 * search as of the earlier session does.
 */
export function firstSessionInformed(instant: string | Date): string {
  const ms = typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
  const { date } = utcToNewYork(new Date(ms));
  const close = NYSE.session(date)?.close;
  if (close !== undefined && ms < Date.parse(close)) return date;
  return NYSE.nextTradingDay(date);
}
