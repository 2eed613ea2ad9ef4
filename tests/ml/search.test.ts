import { describe, expect, it } from 'vitest';
import { predictProba, trainGbt } from '../../ml/gbt.ts';
import { searchHyperparameters, type Sample } from '../../ml/train.ts';

/** A deterministic noisy problem: label from x0 + x1 with flipped labels, so more trees overfit. */
function samples(n: number): Sample[] {
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: n }, (_, i) => {
    const x = [rand() - 0.5, rand() - 0.5, rand() - 0.5];
    const signal = (x[0] ?? 0) + 0.5 * (x[1] ?? 0) > 0 ? 1 : 0;
    const y = rand() < 0.3 ? 1 - signal : signal;
    const date = new Date(Date.UTC(2000, 0, 1) + Math.floor(i / 2) * 86_400_000).toISOString().slice(0, 10);
    return { ticker: i % 2 ? 'B' : 'A', date, x, forwardReturn: y ? 0.01 : -0.01, y: y as 0 | 1 };
  });
}

describe('early stopping and the hyper-parameter search', () => {
  it('keeps the trees up to the best validation log loss and stops `rounds` trees after it', () => {
    const all = samples(1200);
    const train = all.slice(0, 800);
    const valid = all.slice(800);
    const X = train.map((s) => s.x);
    const y = train.map((s) => s.y);
    const validation = { X: valid.map((s) => s.x), y: valid.map((s) => s.y) };
    const m = trainGbt(X, y, { trees: 300, maxDepth: 4, learningRate: 0.5, minSamplesLeaf: 5, earlyStoppingRounds: 5 }, validation);
    const losses = m.validationLoss ?? [];
    const best = losses.indexOf(Math.min(...losses)) + 1;
    expect(m.bestTrees).toBe(best);
    expect(m.trees).toHaveLength(best);
    expect(losses).toHaveLength(best + 5);
    expect(best).toBeLessThan(300);
    // The kept model is the same as one trained with exactly that many trees.
    const again = trainGbt(X, y, { trees: best, maxDepth: 4, learningRate: 0.5, minSamplesLeaf: 5 });
    expect(predictProba(m, validation.X)).toEqual(predictProba(again, validation.X));
    expect(m.importance.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 9);
  });

  it('draws the same seeded candidates every time, scores them on the fold before the last and chooses the lowest loss', () => {
    const data = samples(900);
    const training = {
      horizonDays: 2,
      labelThreshold: 0,
      folds: 3,
      trees: 10,
      maxDepth: 2,
      learningRate: 0.1,
      minSamplesLeaf: 10,
      earlyStoppingRounds: 5,
      search: { candidates: 4, seed: 11, maxDepth: [1, 2, 3], trees: [20, 40], learningRate: [0.1, 0.3] },
    };
    const a = searchHyperparameters(data, training);
    const b = searchHyperparameters(data, training);
    expect(a).toEqual(b);
    if (!a) throw new Error('no search');
    expect(a.candidates).toHaveLength(4);
    expect(new Set(a.candidates.map((c) => `${c.maxDepth}/${c.trees}/${c.learningRate}`)).size).toBe(4);
    expect(a.validation.fold).toBe(2);
    expect(a.chosen.validationLogLoss).toBe(Math.min(...a.candidates.map((c) => c.validationLogLoss)));
    for (const c of a.candidates) expect(c.bestTrees).toBeLessThanOrEqual(c.trees);
    const other = searchHyperparameters(data, { ...training, search: { ...training.search, seed: 12 } });
    expect(other?.candidates.map((c) => `${c.maxDepth}/${c.trees}/${c.learningRate}`)).not.toEqual(
      a.candidates.map((c) => `${c.maxDepth}/${c.trees}/${c.learningRate}`),
    );
    // Neither a search nor early stopping: nothing to report.
    expect(searchHyperparameters(data, { ...training, earlyStoppingRounds: null, search: { ...training.search, candidates: 0 } })).toBeNull();
  });
});
