import { describe, expect, it } from 'vitest';
import { predictProba, trainGbt } from '../../ml/gbt.ts';
import { classificationMetrics, rocAuc } from '../../ml/metrics.ts';

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
}

function dataset(n: number, seed: number): { X: number[][]; y: number[] } {
  const rnd = lcg(seed);
  const X = Array.from({ length: n }, () => [rnd() * 2 - 1, rnd() * 2 - 1, rnd()]);
  // An interaction (XOR of signs) no single split can learn, plus a noise feature.
  const y = X.map((r) => ((r[0] ?? 0) > 0 !== (r[1] ?? 0) > 0 ? 1 : 0));
  return { X, y };
}

const PARAMS = { trees: 40, maxDepth: 3, learningRate: 0.3, minSamplesLeaf: 5 };

describe('gradient-boosted trees', () => {
  it('learns an interaction that needs depth > 1 and generalises to fresh data', () => {
    const train = dataset(1500, 7);
    const test = dataset(500, 99);
    const model = trainGbt(train.X, train.y, PARAMS);
    const m = classificationMetrics(predictProba(model, test.X), test.y);
    expect(m.accuracy).toBeGreaterThan(0.9);
    expect(m.auc).toBeGreaterThan(0.95);
    // The noise feature gets (almost) no importance.
    expect(model.importance[2]).toBeLessThan(0.05);
  });

  it('is deterministic: the same data gives the same trees', () => {
    const d = dataset(400, 3);
    expect(trainGbt(d.X, d.y, PARAMS)).toEqual(trainGbt(d.X, d.y, PARAMS));
  });

  it('respects the depth limit and the minimum leaf size', () => {
    const d = dataset(300, 5);
    const model = trainGbt(d.X, d.y, { ...PARAMS, maxDepth: 2, minSamplesLeaf: 40 });
    for (const tree of model.trees) expect(tree.feature.length).toBeLessThanOrEqual(7);
    const stump = trainGbt(d.X, d.y, { ...PARAMS, trees: 1, minSamplesLeaf: 200 });
    expect(stump.trees[0]?.feature).toEqual([-1]);
  });

  it('starts from the log-odds of the base rate', () => {
    const y = [1, 1, 1, 0];
    const model = trainGbt([[0], [1], [2], [3]], y, { ...PARAMS, trees: 0 });
    expect(predictProba(model, [[5]])[0]).toBeCloseTo(0.75, 6);
  });
});

describe('classification metrics', () => {
  it('computes AUC by ranks, with ties counted half', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 10);
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(rocAuc([0.2, 0.3], [1, 1])).toBeNull();
  });

  it('computes accuracy, precision, recall, log loss and reliability bins', () => {
    const m = classificationMetrics([0.9, 0.8, 0.3, 0.6], [1, 0, 0, 1]);
    expect(m.accuracy).toBe(0.75);
    expect(m.precision).toBeCloseTo(2 / 3, 10);
    expect(m.recall).toBe(1);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.2) + Math.log(0.7) + Math.log(0.6)) / 4, 10);
    expect(m.calibration.reduce((s, b) => s + b.count, 0)).toBe(4);
    expect(m.calibration[8]).toMatchObject({ count: 1, meanPredicted: 0.8, observedRate: 0 });
  });
});
