import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  NYSE,
  TradingCalendar,
  closureReason,
  isMarketOpen,
  isTradingDay,
  nextTradingDay,
  nyseHolidays,
  previousTradingDay,
  sessionClose,
  sessionOpenClose,
  tradingDays,
} from '../../market/calendar.ts';
import { dailyBarTs, newYorkToUtc, utcToNewYork } from '../../market/time.ts';
import { QuorumError } from '../../contracts/errors.ts';

const PRICES = path.join(import.meta.dirname, '../../data/samples/prices');

function csvDates(file: string): string[] {
  return readFileSync(path.join(PRICES, file), 'utf8')
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((l) => (l.split(',')[0] ?? '').replace(/"/g, ''));
}

describe('New York time', () => {
  it('stamps daily bars at the 16:00 New York close: 20:00Z in summer, 21:00Z in winter', () => {
    expect(dailyBarTs('1999-06-01')).toBe('1999-06-01T20:00:00.000Z');
    expect(dailyBarTs('1999-12-01')).toBe('1999-12-01T21:00:00.000Z');
  });

  it('switches daylight saving time on the rule of each era', () => {
    // 2007+: second Sunday of March; 1987-2006: first Sunday of April.
    expect(dailyBarTs('2007-03-09')).toBe('2007-03-09T21:00:00.000Z');
    expect(dailyBarTs('2007-03-12')).toBe('2007-03-12T20:00:00.000Z');
    expect(dailyBarTs('2006-03-31')).toBe('2006-03-31T21:00:00.000Z');
    expect(dailyBarTs('2006-04-03')).toBe('2006-04-03T20:00:00.000Z');
    expect(dailyBarTs('2006-10-27')).toBe('2006-10-27T20:00:00.000Z');
    expect(dailyBarTs('2006-10-30')).toBe('2006-10-30T21:00:00.000Z');
  });

  it('maps a UTC instant back to the New York date and minutes', () => {
    expect(utcToNewYork('2024-07-01T13:30:00Z')).toEqual({ date: '2024-07-01', minutes: 9 * 60 + 30 });
    expect(utcToNewYork('2024-01-03T02:00:00Z')).toEqual({ date: '2024-01-02', minutes: 21 * 60 });
    expect(newYorkToUtc('2024-01-02', 9, 30)).toBe('2024-01-02T14:30:00.000Z');
  });

  it('refuses a date that is not a calendar date', () => {
    expect(() => dailyBarTs('2023-02-30')).toThrow(QuorumError);
  });
});

describe('NYSE calendar', () => {
  it('computes rule-based holidays including Good Friday, MLK day and Juneteenth', () => {
    const h2024 = nyseHolidays(2024);
    expect(h2024.get('2024-03-29')).toBe('Good Friday');
    expect(h2024.get('2024-01-15')).toBe('Martin Luther King Jr. Day');
    expect(h2024.get('2024-06-19')).toBe('Juneteenth');
    expect(h2024.get('2024-11-28')).toBe('Thanksgiving Day');
    expect(nyseHolidays(2021).has('2021-06-18')).toBe(false); // Juneteenth only from 2022
    expect(nyseHolidays(2022).get('2022-06-20')).toBe('Juneteenth'); // Sunday -> Monday
    expect(nyseHolidays(1995).has('1995-01-16')).toBe(false); // MLK day only from 1998
  });

  it('moves Saturday holidays to Friday but never observes a Saturday New Year on Dec 31', () => {
    expect(isTradingDay('2021-12-31')).toBe(true);
    expect(isTradingDay('2021-07-05')).toBe(false); // July 4 2021 was a Sunday
    expect(isTradingDay('2020-07-03')).toBe(false); // July 4 2020 was a Saturday
  });

  it('knows the historical closures', () => {
    for (const d of ['1994-04-27', '2001-09-11', '2001-09-14', '2004-06-11', '2007-01-02', '2012-10-29', '2012-10-30', '2018-12-05', '2025-01-09']) {
      expect(isTradingDay(d), d).toBe(false);
      expect(closureReason(d)).not.toBeNull();
    }
    expect(isTradingDay('2001-09-17')).toBe(true);
  });

  it('agrees with every date of the bundled real price files, with no trading day missing', () => {
    for (const file of ['DowJones30.csv', 'msft.csv', 'sp500-2000.csv']) {
      const dates = csvDates(file);
      const first = dates[0] ?? '';
      const last = dates[dates.length - 1] ?? '';
      expect(
        dates.filter((d) => !isTradingDay(d)),
        file,
      ).toEqual([]);
      expect(tradingDays(first, last), file).toEqual(dates);
    }
  });

  it('steps to the next and previous trading day across weekends and holidays', () => {
    expect(nextTradingDay('2024-03-28')).toBe('2024-04-01');
    expect(previousTradingDay('2024-04-01')).toBe('2024-03-28');
    expect(nextTradingDay('2001-09-10')).toBe('2001-09-17');
  });

  it('gives session open and close in UTC, with 13:00 early closes', () => {
    expect(sessionOpenClose('2024-07-01')).toEqual({
      date: '2024-07-01',
      open: '2024-07-01T13:30:00.000Z',
      close: '2024-07-01T20:00:00.000Z',
      earlyClose: false,
    });
    expect(sessionClose('2024-11-29')).toBe('2024-11-29T18:00:00.000Z');
    expect(sessionOpenClose('2024-12-25')).toBeNull();
  });

  it('says the market is open only inside the regular session of a trading day', () => {
    expect(isMarketOpen('2024-07-01T13:29:59Z')).toBe(false);
    expect(isMarketOpen('2024-07-01T13:30:00Z')).toBe(true);
    expect(isMarketOpen('2024-07-01T19:59:59Z')).toBe(true);
    expect(isMarketOpen('2024-07-01T20:00:00Z')).toBe(false);
    expect(isMarketOpen('2024-03-29T15:00:00Z')).toBe(false); // Good Friday
    expect(isMarketOpen(new Date('2024-11-29T18:30:00Z'))).toBe(false); // after the early close
  });

  it('lets explicit sessions (e.g. Alpaca) override the rules inside their range only', () => {
    const cal = TradingCalendar.withSessions(
      [{ date: '2024-07-01', open: '2024-07-01T13:30:00.000Z', close: '2024-07-01T17:00:00.000Z', earlyClose: true }],
      '2024-07-01',
      '2024-07-02',
    );
    expect(cal.isTradingDay('2024-07-02')).toBe(false); // in range, no session given
    expect(cal.isMarketOpen('2024-07-01T18:00:00Z')).toBe(false);
    expect(cal.isTradingDay('2024-07-03')).toBe(NYSE.isTradingDay('2024-07-03'));
  });
});
