/**
 * US equity market hours in America/New_York for the paper exchange's clock and calendar.
 * No holiday table: the calendar uses the days that have bars, and weekdays beyond the stored bars.
 */

const TZ = 'America/New_York';
const OPEN_MINUTES = 9 * 60 + 30;
const CLOSE_MINUTES = 16 * 60;
const DAY_MS = 86_400_000;

const partsFormat = new Intl.DateTimeFormat('en-US', {
  timeZone: TZ,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  weekday: 'short',
  hourCycle: 'h23',
});

interface NyParts {
  date: string;
  minutes: number;
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** The New York calendar date, minutes after midnight and weekday (0 Sunday) of an instant. */
export function nyParts(ms: number): NyParts {
  const p: Record<string, string> = {};
  for (const part of partsFormat.formatToParts(new Date(ms))) p[part.type] = part.value;
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    minutes: Number(p.hour) * 60 + Number(p.minute),
    weekday: WEEKDAYS[p.weekday ?? 'Sun'] ?? 0,
  };
}

/** The New York calendar date (YYYY-MM-DD) of an ISO instant. */
export function nyDate(iso: string): string {
  return nyParts(Date.parse(iso)).date;
}

/** The UTC instant of a New York wall-clock time on a date (DST-aware). */
export function nyInstant(date: string, minutes: number): number {
  const [y, m, d] = date.split('-').map(Number);
  const guess = Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1, Math.floor(minutes / 60), minutes % 60);
  const seen = nyParts(guess);
  const seenUtc = Date.UTC(
    Number(seen.date.slice(0, 4)),
    Number(seen.date.slice(5, 7)) - 1,
    Number(seen.date.slice(8, 10)),
    Math.floor(seen.minutes / 60),
    seen.minutes % 60,
  );
  return guess - (seenUtc - guess);
}

function isWeekday(date: string): boolean {
  const day = new Date(`${date}T12:00:00Z`).getUTCDay();
  return day >= 1 && day <= 5;
}

function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** Weekdays from `start` to `end` inclusive (at most `max`). */
export function weekdaysBetween(start: string, end: string, max = 2000): string[] {
  const out: string[] = [];
  for (let d = start; d <= end && out.length < max; d = addDays(d, 1)) if (isWeekday(d)) out.push(d);
  return out;
}

export interface MarketClock {
  timestamp: string;
  isOpen: boolean;
  nextOpen: string;
  nextClose: string;
}

/** Alpaca's /v2/clock at a simulated instant: regular session 09:30-16:00 New York, weekdays. */
export function marketClock(nowIso: string): MarketClock {
  const ms = Date.parse(nowIso);
  const p = nyParts(ms);
  const tradingDay = p.weekday >= 1 && p.weekday <= 5;
  const isOpen = tradingDay && p.minutes >= OPEN_MINUTES && p.minutes < CLOSE_MINUTES;
  let openDay = tradingDay && p.minutes < OPEN_MINUTES ? p.date : addDays(p.date, 1);
  while (!isWeekday(openDay)) openDay = addDays(openDay, 1);
  let closeDay = tradingDay && p.minutes < CLOSE_MINUTES ? p.date : addDays(p.date, 1);
  while (!isWeekday(closeDay)) closeDay = addDays(closeDay, 1);
  return {
    timestamp: new Date(ms).toISOString(),
    isOpen,
    nextOpen: new Date(nyInstant(openDay, OPEN_MINUTES)).toISOString(),
    nextClose: new Date(nyInstant(closeDay, CLOSE_MINUTES)).toISOString(),
  };
}
