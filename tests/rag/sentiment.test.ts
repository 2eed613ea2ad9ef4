import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sentimentOf } from '../../rag/index.ts';

describe('sentimentOf', () => {
  it('scores bullish news above zero and bearish news below zero', () => {
    expect(sentimentOf('Profits surge as the company beats estimates and raises its outlook')).toBeGreaterThan(0);
    expect(sentimentOf('Shares plunge after the company reports a loss and warns of bankruptcy')).toBeLessThan(0);
  });

  it('is 0 for text without lexicon words or without words at all', () => {
    expect(sentimentOf('')).toBe(0);
    expect(sentimentOf('12345 ... 678')).toBe(0);
    expect(sentimentOf('the of and')).toBe(0);
  });

  it('does not treat Object.prototype names as lexicon words', () => {
    expect(sentimentOf('constructor toString hasOwnProperty')).toBe(0);
  });

  it('always stays within [-1, 1] and is deterministic', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        const v = sentimentOf(s);
        expect(v).toBeGreaterThanOrEqual(-1);
        expect(v).toBeLessThanOrEqual(1);
        expect(sentimentOf(s)).toBe(v);
      }),
    );
  });
});
