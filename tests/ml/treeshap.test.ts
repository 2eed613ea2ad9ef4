/**
 * TreeSHAP read from the ONNX TreeEnsemble against Shapley values computed by brute force (every
 * coalition, the path-dependent value function written out independently here), on random small
 * ensembles exported to ONNX; and the attributions' sum against onnxruntime's own output.
 */
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { GbtModel, Tree } from '../../ml/gbt.ts';
import { gbtToOnnx, ONNX_INPUT_NAME } from '../../ml/onnx-export.ts';
import { NotATreeEnsemble, shapEnsembleFromOnnx, treeShap, withCovers, type ShapEnsemble, type ShapTree } from '../../ml/treeshap.ts';
import { encodeModel, node, tensorInfo } from '../../ml/onnx-export.ts';

/** E[f_tree(x) | x_S] under the covers: features in S follow x, the others average by cover. */
function conditional(tree: ShapTree, x: readonly number[], S: ReadonlySet<number>, i = 0): number {
  const f = tree.feature[i] ?? -1;
  if (f === -1) return tree.value[i] ?? 0;
  const yes = tree.yes[i] ?? 0;
  const no = tree.no[i] ?? 0;
  if (S.has(f)) return conditional(tree, x, S, Math.fround(x[f] ?? 0) < (tree.threshold[i] ?? 0) ? yes : no);
  const c = tree.cover[i] ?? 1;
  return ((tree.cover[yes] ?? 0) * conditional(tree, x, S, yes) + (tree.cover[no] ?? 0) * conditional(tree, x, S, no)) / c;
}

function factorial(n: number): number {
  return n <= 1 ? 1 : n * factorial(n - 1);
}

function bruteForce(ens: ShapEnsemble, x: readonly number[]): number[] {
  const M = ens.nFeatures;
  const v = (mask: number): number => {
    const S = new Set<number>();
    for (let j = 0; j < M; j++) if (mask & (1 << j)) S.add(j);
    return ens.base + ens.trees.reduce((s, t) => s + conditional(t, x, S), 0);
  };
  const values = Array.from({ length: 1 << M }, (_, mask) => v(mask));
  const phi = new Array<number>(M).fill(0);
  for (let i = 0; i < M; i++) {
    for (let mask = 0; mask < 1 << M; mask++) {
      if (mask & (1 << i)) continue;
      let size = 0;
      for (let j = 0; j < M; j++) if (mask & (1 << j)) size++;
      const w = (factorial(size) * factorial(M - size - 1)) / factorial(M);
      phi[i] = (phi[i] ?? 0) + w * ((values[mask | (1 << i)] ?? 0) - (values[mask] ?? 0));
    }
  }
  return phi;
}

/** A random tree of depth ≤ maxDepth over nFeatures features (features may repeat on a path). */
function arbTree(nFeatures: number, maxDepth: number): fc.Arbitrary<Tree> {
  return fc
    .array(fc.tuple(fc.integer({ min: 0, max: nFeatures - 1 }), fc.float({ min: -2, max: 2, noNaN: true }), fc.boolean()), {
      minLength: 2 ** maxDepth,
      maxLength: 2 ** maxDepth,
    })
    .chain((splits) =>
      fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 2 ** (maxDepth + 1), maxLength: 2 ** (maxDepth + 1) }).map((leaves) => {
        const t: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
        let s = 0;
        let l = 0;
        const build = (depth: number): number => {
          const i = t.feature.length;
          const split = splits[s];
          const stop = depth === maxDepth || !split || (depth > 0 && split[2]);
          t.feature.push(-1);
          t.threshold.push(0);
          t.left.push(0);
          t.right.push(0);
          t.value.push(0);
          if (stop) {
            t.value[i] = Math.fround(leaves[l++] ?? 0);
            return i;
          }
          s++;
          t.feature[i] = split[0];
          t.threshold[i] = Math.fround(split[1]);
          t.left[i] = build(depth + 1);
          t.right[i] = build(depth + 1);
          return i;
        };
        build(0);
        return t;
      }),
    );
}

const arbCase = fc.integer({ min: 1, max: 6 }).chain((F) =>
  fc.record({
    F: fc.constant(F),
    trees: fc.array(arbTree(F, 3), { minLength: 1, maxLength: 4 }),
    base: fc.float({ min: -1, max: 1, noNaN: true }),
    background: fc.array(fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: F, maxLength: F }), { minLength: 0, maxLength: 30 }),
    x: fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: F, maxLength: F }),
  }),
);

function exported(c: { F: number; trees: Tree[]; base: number }): Uint8Array {
  const model: GbtModel = { baseScore: Math.fround(c.base), trees: c.trees, nFeatures: c.F, importance: new Array<number>(c.F).fill(0) };
  return gbtToOnnx(model);
}

describe('TreeSHAP from the ONNX TreeEnsemble', () => {
  it('matches brute-force Shapley values to 1e-9 and sums to the margin on random small ensembles', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const ens = withCovers(shapEnsembleFromOnnx(exported(c), c.F), c.background);
        const got = treeShap(ens, c.x);
        const want = bruteForce(ens, c.x);
        got.phi.forEach((p, j) => expect(Math.abs(p - (want[j] ?? 0))).toBeLessThan(1e-9));
        expect(Math.abs(got.expected + got.phi.reduce((s, p) => s + p, 0) - got.margin)).toBeLessThan(1e-9);
        // A feature no tree splits on gets exactly nothing.
        const used = new Set(c.trees.flatMap((t) => t.feature.filter((f) => f >= 0)));
        got.phi.forEach((p, j) => {
          if (!used.has(j)) expect(p).toBe(0);
        });
      }),
      { numRuns: 300 },
    );
  });

  it("reads the margin onnxruntime computes: σ(E[f] + Σφ) is the model's probability", async () => {
    const c = fc.sample(
      arbCase.filter((k) => k.F >= 3 && k.trees.length >= 3),
      { numRuns: 1, seed: 17 },
    )[0];
    if (!c) throw new Error('no sample');
    const bytes = exported(c);
    const ens = withCovers(shapEnsembleFromOnnx(bytes, c.F), c.background);
    const session = await ort.InferenceSession.create(bytes);
    const rows = [c.x, ...c.background.slice(0, 10)];
    const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, c.F]) });
    const probs = out.probabilities?.data as Float32Array;
    rows.forEach((x, i) => {
      const r = treeShap(ens, x);
      const p = 1 / (1 + Math.exp(-(r.expected + r.phi.reduce((s, v) => s + v, 0))));
      expect(Math.abs(p - (probs[2 * i + 1] ?? 0))).toBeLessThan(1e-6);
    });
    await session.release();
  });

  it('refuses a model that is no single-score tree ensemble, saying why', () => {
    const relu = encodeModel({
      name: 'mlp',
      nodes: [node('Relu', ['x'], ['y'])],
      inputs: [tensorInfo('x', 'float', ['N', 2])],
      outputs: [tensorInfo('y', 'float', ['N', 2])],
    });
    expect(() => shapEnsembleFromOnnx(relu, 2)).toThrow(NotATreeEnsemble);
    expect(() => shapEnsembleFromOnnx(relu, 2)).toThrow(/expected one TreeEnsemble node, found 0/);
  });
});
