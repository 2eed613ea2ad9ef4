/**
 * Backtest ranges against the bundled Dow 30 (1990-12-31..2001-01-02, 2,529 trading days): what is
 * refused, with which field and message, and how an accepted range maps onto trading days.
 */
import { describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/index.ts';
import { PriceView, loadBundledPrices, parseDateFlag, resolveRange } from '../../evals/backtest/data.ts';

const view = new PriceView(loadBundledPrices(['GE', 'IBM']).bars);
const MIN_TRAIN = 252;

function refusal(from: string, to: string, minTrain = MIN_TRAIN): QuorumError {
  try {
    resolveRange(view, from, to, minTrain);
  } catch (error) {
    if (QuorumError.isInstance(error)) return error;
    throw error;
  }
  throw new Error(`accepted ${from}..${to}`);
}

describe('backtest range', () => {
  it('refuses a --from before the data with the available range, from the first usable --from to the last stored bar', () => {
    const e = refusal('1980-01-02', '1995-06-30');
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.details).toMatchObject({ field: 'from', firstUsable: '1991-12-30', lastUsable: '2001-01-02', firstBar: '1990-12-31' });
    // The 253rd trading day: 252 days of history before it.
    expect(e.message).toContain('--from 1980-01-02 is before the first usable date 1991-12-30');
    expect(e.message).toContain('available dates: 1991-12-30..2001-01-02 (from the first stored bar 1990-12-31, 253 bars');
  });

  it('refuses a --from inside the data but without a training window before it', () => {
    const e = refusal('1991-06-03', '1995-06-30');
    expect(e.details).toMatchObject({ field: 'from' });
    expect(e.message).toContain('--from 1991-06-03 is before the first usable date 1991-12-30');
    // A shorter window moves the earliest day earlier.
    expect(resolveRange(view, '1991-06-03', '1995-06-30', 100).from).toBe('1991-06-03');
  });

  it('refuses a --to after the data, naming --to', () => {
    const e = refusal('1995-01-03', '2005-01-03');
    expect(e.details).toMatchObject({ field: 'to' });
    expect(e.message).toContain('--to 2005-01-03 is after the last stored bar 2001-01-02; available dates: 1991-12-30..2001-01-02');
  });

  it('refuses --from after --to', () => {
    const e = refusal('1996-01-02', '1995-01-03');
    expect(e.details).toMatchObject({ field: 'to' });
    expect(e.message).toContain('--to 1995-01-03 is before --from 1996-01-02');
  });

  it('refuses what is not a date, naming the flag', () => {
    expect(refusal('yesterday', '1995-06-30').details).toMatchObject({ field: 'from' });
    expect(refusal('1995-01-03', '1995-13-01').message).toContain('--to: expected a date like 1995-01-03, got "1995-13-01"');
    expect(refusal('1995-02-30', '1995-06-30').message).toContain('"1995-02-30"');
    expect(() => parseDateFlag('1995-1-3', 'from')).toThrow(/--from: expected a date/);
  });

  it('refuses a --from or --to that is not a trading day, naming the trading days on either side', () => {
    const saturday = refusal('1995-01-07', '1995-06-30');
    expect(saturday.details).toMatchObject({ field: 'from', previousTradingDay: '1995-01-06', nextTradingDay: '1995-01-09' });
    expect(saturday.message).toContain('--from 1995-01-07 is not a trading day (a Saturday): the previous trading day is 1995-01-06, the next 1995-01-09');
    const goodFriday = refusal('1995-01-03', '1995-04-14');
    expect(goodFriday.details).toMatchObject({ field: 'to' });
    expect(goodFriday.message).toContain('--to 1995-04-14 is not a trading day (Good Friday): the previous trading day is 1995-04-13, the next 1995-04-17');
  });

  it('maps an accepted range onto the trading days', () => {
    const r = resolveRange(view, '1995-01-03', '1995-12-29', MIN_TRAIN);
    expect(r).toMatchObject({ from: '1995-01-03', to: '1995-12-29' });
    expect(view.days[r.fromIdx]).toBe('1995-01-03');
    expect(view.days[r.toIdx]).toBe('1995-12-29');
  });
});

describe('point-in-time price view', () => {
  it('never hands out a bar after the day it is asked on', () => {
    const i = view.indexOf('1995-06-30');
    const bars = view.barsUpTo('GE', i);
    expect(bars[bars.length - 1]?.ts.slice(0, 10)).toBe('1995-06-30');
    expect(view.barsUpTo('GE', i, 10)).toHaveLength(10);
    expect(view.barOn('GE', i)?.close).toBe(bars[bars.length - 1]?.close);
    expect(view.closeAt('GE', i)).toBe(bars[bars.length - 1]?.close);
    expect(view.barsBetween('GE', i, i + 3).map((b) => b.ts.slice(0, 10))).toEqual(view.days.slice(i + 1, i + 4));
  });
});
