/**
 * The one date check (market/checkTradingDate) over the calendar and the bars stored in the database,
 * on PGlite and PostgreSQL: the bundled MSFT OHLCV file (2000-09-27..2001-09-27, 249 bars, with
 * Good Friday, Independence Day and the September 11 closure inside it) and the features' warm-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/index.ts';
import { checkTradingDate, checkTradingDateIn, ingestPriceCsv, storedBarTimes, type TradingDateOptions } from '../../market/index.ts';
import { WARMUP_BARS, checkProposalDate } from '../../ml/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { MSFT_CSV } from '../support/committee.ts';

const CRITIQUE: TradingDateOptions = { purpose: 'critique', field: 'asOf', label: '--as-of', warmupBars: WARMUP_BARS };
// The 51st bar (WARMUP_BARS) of msft.csv, and the one after it.
const FIRST_AT_CLOSE = '2000-12-07';
const FIRST_INTRADAY = '2000-12-08';
const RANGE_AT_CLOSE = `available dates: ${FIRST_AT_CLOSE}..2001-09-27 (from the first stored bar 2000-09-27, ${WARMUP_BARS} bars up to the day's close for the feature warm-up; the last stored bar is 2001-09-27)`;

async function refusal(run: () => Promise<unknown>): Promise<QuorumError> {
  try {
    await run();
  } catch (error) {
    if (QuorumError.is(error, 'INPUT_INVALID')) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe.each(BACKENDS)('the trading-date check on $name', ({ open, available }) => {
  let t: TestDb;
  const check = (date: string, options: Partial<TradingDateOptions> = {}): ReturnType<typeof checkTradingDate> =>
    checkTradingDate(t.db, date, { ...CRITIQUE, ...options });

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    await ingestPriceCsv(t.db, MSFT_CSV, { ticker: 'MSFT' });
  }, 120_000);

  afterAll(async () => {
    if (available) await t.cleanup();
  });

  it.skipIf(!available)('reads the stored close times, ascending and distinct, of all bars or one ticker', async () => {
    const times = await storedBarTimes(t.db);
    expect(times).toHaveLength(249);
    expect(times[0]).toBe('2000-09-27T20:00:00.000Z');
    expect(times.at(-1)).toBe('2001-09-27T20:00:00.000Z');
    expect([...times].sort()).toEqual(times);
    expect(await storedBarTimes(t.db, 'MSFT')).toEqual(times);
    expect(await storedBarTimes(t.db, 'IBM')).toEqual([]);
  });

  it.skipIf(!available)('accepts a trading day inside the range and says which bar comes next', async () => {
    const ok = await check('2001-06-01');
    expect(ok).toEqual({
      asOf: '2001-06-01T20:00:00.000Z',
      date: '2001-06-01',
      firstUsable: FIRST_AT_CLOSE,
      lastUsable: '2001-09-27',
      firstBar: '2000-09-27',
      lastBar: '2001-09-27',
      nextBarTs: '2001-06-04T20:00:00.000Z',
    });
    // The last bar's own day reads bars up to it: fine for a critique.
    expect((await check('2001-09-27')).nextBarTs).toBeNull();
  });

  it.skipIf(!available)('refuses a weekend, naming the previous and next trading days and the range', async () => {
    const e = await refusal(() => check('2001-06-02'));
    expect(e.details).toMatchObject({
      field: 'asOf',
      previousTradingDay: '2001-06-01',
      nextTradingDay: '2001-06-04',
      firstUsable: FIRST_AT_CLOSE,
      lastUsable: '2001-09-27',
    });
    expect(e.message).toBe(
      `--as-of 2001-06-02 is not a trading day (a Saturday): the previous trading day is 2001-06-01, the next 2001-06-04; ${RANGE_AT_CLOSE}`,
    );
  });

  it.skipIf(!available)('refuses holidays and closures by name, also given as a timestamp', async () => {
    const goodFriday = await refusal(() => check('2001-04-13'));
    expect(goodFriday.message).toContain('--as-of 2001-04-13 is not a trading day (Good Friday): the previous trading day is 2001-04-12, the next 2001-04-16');
    const closed = await refusal(() => check('2001-09-12T14:00:00Z'));
    expect(closed.details).toMatchObject({ previousTradingDay: '2001-09-10', nextTradingDay: '2001-09-17' });
    expect(closed.message).toContain('--as-of 2001-09-12T14:00:00.000Z is not a trading day (September 11 attacks)');
    expect((await refusal(() => check('2001-07-04'))).message).toContain('(Independence Day)');
  });

  it.skipIf(!available)('refuses a date before the first stored bar plus the feature warm-up', async () => {
    const before = await refusal(() => check('1990-01-02'));
    expect(before.message).toBe(`--as-of 1990-01-02 is before the first usable date ${FIRST_AT_CLOSE}; ${RANGE_AT_CLOSE}`);
    // Inside the bars but short of the warm-up: the day before the 51st bar.
    expect((await refusal(() => check('2000-12-06'))).details).toMatchObject({ field: 'asOf', firstUsable: FIRST_AT_CLOSE });
    await expect(check(FIRST_AT_CLOSE)).resolves.toMatchObject({ date: FIRST_AT_CLOSE });
    // A session at midday sees only the earlier days' bars: its warm-up ends one bar later.
    const midday = { purpose: 'demo', field: 'date', label: '--date', at: { hour: 12, minute: 30 } } as const;
    const e = await refusal(() => check(FIRST_AT_CLOSE, midday));
    expect(e.message).toContain(`--date ${FIRST_AT_CLOSE} is before the first usable date ${FIRST_INTRADAY}; available dates: ${FIRST_INTRADAY}..2001-09-27`);
    expect(e.details).toMatchObject({ field: 'date' });
  });

  it.skipIf(!available)('refuses a date after the last stored bar; a session also needs a bar after it to fill at', async () => {
    const after = await refusal(() => check('2001-10-01'));
    expect(after.message).toBe(`--as-of 2001-10-01 is after the last stored bar 2001-09-27; ${RANGE_AT_CLOSE}`);
    expect(after.details).toMatchObject({ field: 'asOf', lastBar: '2001-09-27' });
    // A session at the last close would never fill: the range ends a bar earlier.
    const session = await refusal(() => check('2001-09-27', { purpose: 'session' }));
    expect(session.message).toContain('--as-of 2001-09-27 has no stored bar after it to fill its orders at; available dates: 2000-12-07..2001-09-26');
    expect(session.message).toContain('the last stored bar is 2001-09-27, where its orders would fill');
    // At midday of the last day, that day's close is the next bar.
    await expect(check('2001-09-27', { purpose: 'demo', at: { hour: 12, minute: 30 } })).resolves.toMatchObject({ nextBarTs: '2001-09-27T20:00:00.000Z' });
  });

  it.skipIf(!available)('refuses live data older than the configured staleness, and live sessions on closed days', async () => {
    const live = (now: string, maxBarAgeTradingDays = 1): ReturnType<typeof checkTradingDate> => check(now, { purpose: 'live', maxBarAgeTradingDays });
    // Friday 11:00 New York: Thursday's close is the newest bar there can be.
    await expect(live('2001-09-28T15:00:00Z', 0)).resolves.toMatchObject({ date: '2001-09-28' });
    // Wednesday: Friday, Monday and Tuesday closed without a stored bar.
    const stale = await refusal(() => live('2001-10-03T16:00:00Z'));
    expect(stale.details).toMatchObject({ field: 'asOf', newestBar: '2001-09-27', ageTradingDays: 3, maxBarAgeTradingDays: 1 });
    expect(stale.message).toContain('the newest stored bar is from 2001-09-27, 3 trading-day close(s) before now (2001-10-03T16:00:00.000Z)');
    expect(stale.message).toContain('at most 1 trading day(s) old (settings.yaml sessions.maxBarAgeTradingDays)');
    await expect(live('2001-10-03T16:00:00Z', 3)).resolves.toMatchObject({ lastBar: '2001-09-27' });
    const saturday = await refusal(() => live('2001-09-29T16:00:00Z', 5));
    expect(saturday.message).toContain('now (2001-09-29T16:00:00.000Z) is not a trading day (a Saturday)');
  });

  it.skipIf(!available)('names the ticker when it has no bars, and counts only its bars when one is given', async () => {
    const e = await refusal(() => check('2001-06-01', { ticker: 'IBM' }));
    expect(e.details).toMatchObject({ field: 'ticker', ticker: 'IBM' });
    expect(e.message).toBe('no bars for IBM are stored: load prices first (quorum ingest prices <csv> --ticker IBM, or a wide CSV)');
    expect((await refusal(() => check('2001-10-01', { ticker: 'MSFT' }))).message).toContain('after the last stored bar of MSFT 2001-09-27');
  });

  it.skipIf(!available)("checks proposal dates with the features' own warm-up", async () => {
    expect(WARMUP_BARS).toBe(51);
    await expect(checkProposalDate(t.db, FIRST_AT_CLOSE, { purpose: 'propose', field: 'asOf' })).resolves.toMatchObject({ firstUsable: FIRST_AT_CLOSE });
    expect((await refusal(() => checkProposalDate(t.db, '2000-12-06', { purpose: 'propose', field: 'asOf' }))).message).toMatch(/^asOf 2000-12-06 is before/);
  });
});

describe('the trading-date check without a database', () => {
  it('refuses what is no date, naming the field', () => {
    const e = ((): QuorumError => {
      try {
        checkTradingDateIn(['2001-06-01T20:00:00.000Z'], '2001-02-30', CRITIQUE);
      } catch (error) {
        if (QuorumError.isInstance(error)) return error;
      }
      throw new Error('accepted');
    })();
    expect(e.details).toMatchObject({ field: 'asOf' });
    expect(e.message).toContain('--as-of: not a calendar date: "2001-02-30"');
    expect(() => checkTradingDateIn([], 'tomorrow', CRITIQUE)).toThrow(/--as-of: expected a date like 1999-06-01 or an ISO timestamp, got "tomorrow"/);
  });

  it('says when too few bars are stored for any date to be usable', () => {
    const times = ['2001-06-01T20:00:00.000Z', '2001-06-04T20:00:00.000Z'];
    expect(() => checkTradingDateIn(times, '2001-06-04', CRITIQUE)).toThrow(
      /--as-of 2001-06-04: no date is usable: 2 stored bar\(s\) from 2001-06-01 to 2001-06-04, and the feature warm-up needs 51/,
    );
  });
});
