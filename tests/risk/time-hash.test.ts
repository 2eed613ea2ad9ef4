/** The pure helpers under the controller: New York calendar days, ISO parsing and the content hash. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentHash } from '../../risk/hash.ts';
import { easternDay, easternDayStartMs, isoMs } from '../../risk/time.ts';

const nyDate = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' });
const dayNumber = (ymd: string): number => Date.parse(`${ymd}T00:00:00Z`) / 86_400_000;

describe('easternDay', () => {
  it('agrees with the tz database on the New York calendar day, 1990-2040', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2040, 0, 1) }), (ms) => {
        expect(easternDay(ms)).toBe(dayNumber(nyDate.format(ms)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('switches exactly at the DST transitions', () => {
    // 2024: DST from 10 March 07:00 UTC to 3 November 06:00 UTC.
    for (const ms of [Date.UTC(2024, 2, 10, 6, 59, 59), Date.UTC(2024, 2, 10, 7), Date.UTC(2024, 10, 3, 5, 59, 59), Date.UTC(2024, 10, 3, 6)]) {
      expect(easternDay(ms + 4 * 3_600_000)).toBe(dayNumber(nyDate.format(ms + 4 * 3_600_000)));
      expect(easternDay(ms - 4 * 3_600_000 - 1)).toBe(dayNumber(nyDate.format(ms - 4 * 3_600_000 - 1)));
    }
    expect(easternDay(Date.parse('2024-03-12T03:59:59Z'))).toBe(dayNumber('2024-03-11'));
    expect(easternDay(Date.parse('2024-03-12T04:00:00Z'))).toBe(dayNumber('2024-03-12'));
  });
});

describe('easternDayStartMs', () => {
  it('is the first millisecond of the New York day, in standard and daylight time', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2040, 0, 1) }), (ms) => {
        const day = easternDay(ms);
        const start = easternDayStartMs(day);
        expect(easternDay(start)).toBe(day);
        expect(easternDay(start - 1)).toBe(day - 1);
      }),
      { numRuns: 2_000 },
    );
    expect(new Date(easternDayStartMs(easternDay(Date.parse('2024-03-12T15:00:00Z')))).toISOString()).toBe('2024-03-12T04:00:00.000Z');
    expect(new Date(easternDayStartMs(easternDay(Date.parse('2024-01-12T15:00:00Z')))).toISOString()).toBe('2024-01-12T05:00:00.000Z');
  });
});

describe('isoMs', () => {
  it('agrees with Date.parse on ISO timestamps with Z, offsets and fractions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) }),
        fc.integer({ min: -12 * 60, max: 14 * 60 }),
        fc.constantFrom(0, 1, 3, 6),
        (ms, offsetMinutes, fraction) => {
          const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 19);
          const frac =
            fraction === 0
              ? ''
              : `.${String(ms % 1000)
                  .padStart(3, '0')
                  .padEnd(fraction, '0')
                  .slice(0, fraction)}`;
          const sign = offsetMinutes < 0 ? '-' : '+';
          const abs = Math.abs(offsetMinutes);
          const zone = offsetMinutes === 0 ? 'Z' : `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const text = `${local}${frac}${zone}`;
          expect(isoMs(text)).toBe(Date.parse(text));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('gives NaN for what is not a timestamp, including impossible dates', () => {
    for (const bad of ['', 'yesterday', '2024-02-30T10:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T25:00:00Z']) expect(isoMs(bad)).toBeNaN();
  });
});

describe('contentHash', () => {
  it('is the same for the same content in any key order, and 32 hex characters', () => {
    const a = contentHash({ x: 1, y: [1, 'a', null, true], z: { p: 'q', r: 2.5 } });
    expect(contentHash({ z: { r: 2.5, p: 'q' }, y: [1, 'a', null, true], x: 1 })).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
  });

  it('tells apart values that print alike', () => {
    const seen = new Set([
      contentHash(['ab']),
      contentHash(['a', 'b']),
      contentHash({ a: 1 }),
      contentHash({ a: '1' }),
      contentHash([1, 2]),
      contentHash([2, 1]),
      contentHash({ a: { b: 1 } }),
      contentHash({ a: 1, b: undefined, c: null }),
      contentHash(0),
      contentHash(-0),
      contentHash(Number.NaN),
    ]);
    expect(seen.size).toBe(11);
  });

  it('treats an absent field and an undefined one alike', () => {
    expect(contentHash({ a: 1, b: undefined })).toBe(contentHash({ a: 1 }));
  });

  it('does not collide on 20,000 random distinct values', () => {
    const values =
      fc.sample(fc.uniqueArray(fc.jsonValue(), { minLength: 20_000, maxLength: 20_000, selector: (v) => JSON.stringify(v) }), { numRuns: 1, seed: 7 })[0] ?? [];
    expect(values.length).toBe(20_000);
    expect(new Set(values.map((v) => contentHash(v))).size).toBe(values.length);
  });
});
