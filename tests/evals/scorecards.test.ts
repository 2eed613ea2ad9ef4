/**
 * The scorecards' maths on hand-computed cases, and properties: Brier in [0, 1], a perfect
 * forecaster scores 0, a certainly wrong one 1, the reliability table counts every forecast once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { brierScore, decisionRight, reliabilityTable, scorecards, upProbability, type ScoredCritique } from '../../evals/index.ts';

describe('scorecards', () => {
  it('reads a stance as P(up) by the proposal side', () => {
    expect(upProbability('buy', 'support', 0.6)).toBeCloseTo(0.8, 12);
    expect(upProbability('buy', 'oppose', 0.6)).toBeCloseTo(0.2, 12);
    expect(upProbability('sell', 'support', 0.6)).toBeCloseTo(0.2, 12);
    expect(upProbability('sell', 'oppose', 1)).toBe(1);
    expect(upProbability('buy', 'neutral', 0.9)).toBe(0.5);
  });

  it('scores hand-computed cases', () => {
    // (0.8-1)^2 = 0.04, (0.2-0)^2 = 0.04, (0.5-1)^2 = 0.25, (0.2-1)^2 = 0.64: mean 0.2425.
    expect(
      brierScore([
        { p: 0.8, y: 1 },
        { p: 0.2, y: 0 },
        { p: 0.5, y: 1 },
        { p: 0.2, y: 1 },
      ]),
    ).toBeCloseTo(0.2425, 12);
    expect(brierScore([])).toBeNull();
    const critiques: ScoredCritique[] = [
      {
        proposalId: 'a',
        side: 'buy',
        opinions: [
          { role: 'bull', stance: 'support', confidence: 0.6 },
          { role: 'bear', stance: 'oppose', confidence: 0.4 },
        ],
        decision: 'APPROVE',
        confidence: 0.7,
        forwardReturn: 0.02,
      },
      {
        proposalId: 'b',
        side: 'buy',
        opinions: [
          { role: 'bull', stance: 'support', confidence: 1 },
          { role: 'bear', stance: 'oppose', confidence: 0.8 },
        ],
        decision: 'REJECT',
        confidence: 0.9,
        forwardReturn: -0.01,
      },
      {
        proposalId: 'c',
        side: 'sell',
        opinions: [{ role: 'bull', stance: 'support', confidence: 0.2 }],
        decision: 'ABSTAIN',
        confidence: 0,
        forwardReturn: 0.03,
      },
    ];
    const s = scorecards(critiques, { bins: 2, unresolved: 4 });
    const bull = s.agents.find((a) => a.role === 'bull');
    // bull: a 0.8 vs 1 -> 0.04; b 1.0 vs 0 -> 1; c (sell, support 0.2) 0.4 vs 1 -> 0.36. Mean 1.4/3.
    expect(bull?.n).toBe(3);
    expect(bull?.brier).toBeCloseTo(1.4 / 3, 12);
    expect(bull?.upRate).toBeCloseTo(2 / 3, 12);
    // bear: a 0.3 vs 1 -> 0.49; b 0.1 vs 0 -> 0.01. Mean 0.25.
    expect(s.agents.find((a) => a.role === 'bear')?.brier).toBeCloseTo(0.25, 12);
    expect(s.agents.find((a) => a.role === 'analyst')).toMatchObject({ n: 0, brier: null });
    // Committee: APPROVE of a rise (right, 0.7) and REJECT of a fall (right, 0.9); ABSTAIN left out.
    expect(s.committee.n).toBe(2);
    expect(s.committee.brier).toBeCloseTo((0.09 + 0.01) / 2, 12);
    expect(s.committee.bins).toEqual([
      { lo: 0, hi: 0.5, n: 0, meanConfidence: null, observed: null },
      { lo: 0.5, hi: 1, n: 2, meanConfidence: 0.8, observed: 1 },
    ]);
    expect(s.committee.ece).toBeCloseTo(0.2, 12);
    expect(s.unresolved).toBe(4);
  });

  it('calls a REDUCE of a fall and a REJECT of a rise wrong', () => {
    expect(decisionRight({ side: 'buy', decision: 'REDUCE', forwardReturn: -0.01 })).toBe(false);
    expect(decisionRight({ side: 'sell', decision: 'REDUCE', forwardReturn: -0.01 })).toBe(true);
    expect(decisionRight({ side: 'buy', decision: 'REJECT', forwardReturn: 0.01 })).toBe(false);
    expect(decisionRight({ side: 'buy', decision: 'ABSTAIN', forwardReturn: 0.01 })).toBeNull();
  });

  it('keeps Brier in [0, 1], 0 for a perfect forecaster and 1 for a certainly wrong one; the bins count each forecast once', () => {
    const forecast = fc.record({ p: fc.double({ min: 0, max: 1, noNaN: true }), y: fc.constantFrom<0 | 1>(0, 1) });
    fc.assert(
      fc.property(fc.array(forecast, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 12 }), (fs, bins) => {
        const b = brierScore(fs) ?? -1;
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(1);
        expect(brierScore(fs.map((f) => ({ p: f.y, y: f.y })))).toBe(0);
        expect(brierScore(fs.map((f) => ({ p: 1 - f.y, y: f.y })))).toBe(1);
        const table = reliabilityTable(fs, bins);
        expect(table.bins.reduce((a, x) => a + x.n, 0)).toBe(fs.length);
        expect(table.ece ?? -1).toBeGreaterThanOrEqual(0);
        expect(table.ece ?? 2).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });
});
