import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { num } from '../../risk/format.ts';

describe('num', () => {
  it('prints like toFixed', () => {
    expect(num(100000)).toBe('100000.00');
    expect(num(2, 4)).toBe('2.0000');
    expect(num(-2)).toBe('-2.00');
    expect(num(0.004)).toBe('0.00');
    expect(num(-0.004)).toBe('0.00');
    expect(num(3.14159, 3)).toBe('3.142');
    expect(num(121, 1)).toBe('121.0');
    expect(num(Number.NaN)).toBe('NaN');
    expect(num(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(num(1e13)).toBe('10000000000000.00');
  });

  it('agrees with toFixed away from exact halves', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.integer({ min: 0, max: 4 }), (n, digits) => {
        const scaled = Math.abs(n) * 10 ** digits;
        // Exactly-half cases may round either way in binary; both are fine for a detail string.
        fc.pre(Math.abs(scaled - Math.floor(scaled) - 0.5) > 1e-6);
        const expected = n.toFixed(digits);
        expect(num(n, digits)).toBe(/^-0\.?0*$/.test(expected) ? expected.slice(1) : expected);
      }),
      { numRuns: 2_000 },
    );
  });
});
