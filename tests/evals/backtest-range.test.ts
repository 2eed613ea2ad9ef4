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
  it('refuses a --from before the data with the available range and the earliest allowed --from', () => {
    const e = refusal('1980-01-02', '1995-06-30');
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.details).toMatchObject({ field: 'from' });
    expect(e.message).toContain('--from 1980-01-02 is before the first day of the data 1990-12-31');
    expect(e.message).toContain('available range 1990-12-31..2001-01-02');
    // The 253rd trading day: 252 days of history before it.
    expect(e.message).toContain('earliest allowed --from is 1991-12-30');
  });

  it('refuses a --from inside the data but without a training window before it', () => {
    const e = refusal('1991-06-03', '1995-06-30');
    expect(e.details).toMatchObject({ field: 'from' });
    expect(e.message).toContain('--from 1991-06-03 is before the first usable day 1991-12-30');
    // A shorter window moves the earliest day earlier.
    expect(resolveRange(view, '1991-06-03', '1995-06-30', 100).from).toBe('1991-06-03');
  });

  it('refuses a --to after the data, naming --to', () => {
    const e = refusal('1995-01-03', '2005-01-03');
    expect(e.details).toMatchObject({ field: 'to' });
    expect(e.message).toContain('--to 2005-01-03 is after the last day of the data 2001-01-02');
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

  it('refuses a range with no trading day in it', () => {
    // A Saturday and a Sunday.
    expect(refusal('1995-01-07', '1995-01-08').message).toContain('no trading day in the range');
  });

  it('snaps a range onto the trading days inside it', () => {
    const r = resolveRange(view, '1995-01-01', '1995-12-31', MIN_TRAIN);
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
