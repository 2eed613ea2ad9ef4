/**
 * A small gradient-boosted decision-tree classifier (binary, logloss), histogram splits, depth-limited,
 * fully deterministic (no sampling). Inputs, thresholds and leaf values are kept in float32 so the
 * TypeScript model and its ONNX export (ai.onnx.ml TreeEnsembleClassifier, float tensors) agree.
 */

/** Training hyper-parameters (settings.training supplies trees, maxDepth, learningRate, minSamplesLeaf). */
export interface GbtParams {
  trees: number;
  maxDepth: number;
  learningRate: number;
  minSamplesLeaf: number;
  /** L2 regularisation of leaf values. */
  lambda?: number;
  /** Candidate thresholds per feature (quantiles). */
  maxBins?: number;
  /**
   * With a validation set: stop when its log loss has not improved for this many trees, and keep the
   * trees up to the best one.
   */
  earlyStoppingRounds?: number;
}

/** Rows and labels the booster is scored on after each tree (early stopping). */
export interface ValidationSet {
  X: readonly (readonly number[])[];
  y: readonly number[];
}

export const DEFAULT_GBT_LAMBDA = 1;
export const DEFAULT_GBT_MAX_BINS = 64;

/** One tree, flat: node i is a leaf when feature[i] === -1; `x < threshold` goes left. */
export interface Tree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export interface GbtModel {
  /** Log-odds added to every tree sum. */
  baseScore: number;
  trees: Tree[];
  nFeatures: number;
  /** Total split gain per feature, normalised to sum 1. */
  importance: number[];
  /** With a validation set: its log loss after each tree (index t: trees 0..t), and the trees kept. */
  validationLoss?: number[];
  bestTrees?: number;
}

const f32 = Math.fround;

/** Logistic sigmoid. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Sorted float32 thresholds for one feature: midpoints below count-based quantiles (all gaps when few). */
function candidateThresholds(values: Float32Array, maxBins: number): Float32Array {
  const sorted = Float32Array.from(values).sort();
  const distinct: number[] = [];
  for (const v of sorted) if (distinct.length === 0 || v !== distinct[distinct.length - 1]) distinct.push(v);
  if (distinct.length < 2) return new Float32Array(0);
  const cuts: number[] = [];
  if (distinct.length <= maxBins) {
    for (let k = 1; k < distinct.length; k++) cuts.push(k);
  } else {
    const n = sorted.length;
    for (let s = 1; s < maxBins; s++) {
      const v = sorted[Math.floor((s * n) / maxBins)] ?? 0;
      // Index of v among the distinct values (binary search).
      let lo = 0;
      let hi = distinct.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((distinct[mid] ?? 0) < v) lo = mid + 1;
        else hi = mid;
      }
      if (lo >= 1 && (cuts.length === 0 || lo > (cuts[cuts.length - 1] ?? 0))) cuts.push(lo);
    }
  }
  return Float32Array.from(
    cuts.map((k) => {
      const lo = distinct[k - 1] ?? 0;
      const hi = distinct[k] ?? 0;
      const t = f32((lo + hi) / 2);
      // A float32 midpoint may round onto lo (then lo would go right); hi still separates the two.
      return t <= lo ? hi : t;
    }),
  );
}

/** Number of thresholds <= x (so `x < t_j` ⟺ bin <= j). */
function binOf(x: number, t: Float32Array): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((t[mid] ?? 0) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Trains on row-major `X` (rows × features) and labels `y` (0/1). Deterministic: the same data and
 * params give the same model.
 */
export function trainGbt(X: readonly (readonly number[])[], y: readonly number[], params: GbtParams, validation?: ValidationSet): GbtModel {
  const n = X.length;
  const F = X[0]?.length ?? 0;
  if (n === 0 || F === 0) throw new Error('trainGbt: empty training set');
  if (y.length !== n) throw new Error('trainGbt: X and y differ in length');
  const lambda = params.lambda ?? DEFAULT_GBT_LAMBDA;
  const maxBins = Math.min(params.maxBins ?? DEFAULT_GBT_MAX_BINS, 255);

  const cols: Float32Array[] = [];
  const thresholds: Float32Array[] = [];
  const bins: Uint8Array[] = [];
  for (let f = 0; f < F; f++) {
    const c = new Float32Array(n);
    for (let i = 0; i < n; i++) c[i] = X[i]?.[f] ?? 0;
    cols.push(c);
    const t = candidateThresholds(c, maxBins);
    thresholds.push(t);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = binOf(c[i] ?? 0, t);
    bins.push(b);
  }

  const mean = y.reduce((s, v) => s + v, 0) / n;
  const clipped = Math.min(Math.max(mean, 1e-6), 1 - 1e-6);
  const baseScore = f32(Math.log(clipped / (1 - clipped)));
  const score = new Float64Array(n).fill(baseScore);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  let gain = new Float64Array(F);
  const gains: Float64Array[] = [];
  const trees: Tree[] = [];
  const vScore = validation ? new Float64Array(validation.X.length).fill(baseScore) : null;
  const validationLoss: number[] = [];
  let bestSoFar = { loss: Number.POSITIVE_INFINITY, trees: 0 };

  for (let t = 0; t < params.trees; t++) {
    gain = new Float64Array(F);
    gains.push(gain);
    for (let i = 0; i < n; i++) {
      const p = sigmoid(score[i] ?? 0);
      g[i] = p - (y[i] ?? 0);
      h[i] = Math.max(p * (1 - p), 1e-12);
    }
    const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
    const all = new Uint32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    buildNode(tree, all, 0);
    trees.push(tree);
    for (let i = 0; i < n; i++) score[i] = (score[i] ?? 0) + predictTree(tree, (f) => cols[f]?.[i] ?? 0);
    if (validation && vScore) {
      let loss = 0;
      for (let i = 0; i < vScore.length; i++) {
        const row = validation.X[i] ?? [];
        const s = (vScore[i] ?? 0) + predictTree(tree, (f) => row[f] ?? 0);
        vScore[i] = s;
        const p = Math.min(Math.max(sigmoid(s), 1e-15), 1 - 1e-15);
        const yi = validation.y[i] ?? 0;
        loss -= yi * Math.log(p) + (1 - yi) * Math.log(1 - p);
      }
      loss /= Math.max(vScore.length, 1);
      validationLoss.push(loss);
      if (loss < bestSoFar.loss - 1e-12) bestSoFar = { loss, trees: t + 1 };
      else if (params.earlyStoppingRounds !== undefined && t + 1 - bestSoFar.trees >= params.earlyStoppingRounds) break;
    }
  }
  if (validation && params.earlyStoppingRounds !== undefined) {
    trees.length = Math.max(bestSoFar.trees, 1);
    gains.length = trees.length;
  }

  function leaf(tree: Tree, G: number, H: number): number {
    const id = tree.feature.length;
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(f32((-G / (H + lambda)) * params.learningRate));
    return id;
  }

  function buildNode(tree: Tree, idx: Uint32Array, depth: number): number {
    let G = 0;
    let H = 0;
    for (const i of idx) {
      G += g[i] ?? 0;
      H += h[i] ?? 0;
    }
    if (depth >= params.maxDepth || idx.length < 2 * params.minSamplesLeaf) return leaf(tree, G, H);
    const parentScore = (G * G) / (H + lambda);
    let best = { gain: 1e-12, feature: -1, bin: -1 };
    for (let f = 0; f < F; f++) {
      const t = thresholds[f];
      const b = bins[f];
      if (!t || !b || t.length === 0) continue;
      const k = t.length + 1;
      const gh = new Float64Array(k);
      const hh = new Float64Array(k);
      const ch = new Uint32Array(k);
      for (const i of idx) {
        const bi = b[i] ?? 0;
        gh[bi] = (gh[bi] ?? 0) + (g[i] ?? 0);
        hh[bi] = (hh[bi] ?? 0) + (h[i] ?? 0);
        ch[bi] = (ch[bi] ?? 0) + 1;
      }
      let GL = 0;
      let HL = 0;
      let CL = 0;
      for (let j = 0; j < k - 1; j++) {
        GL += gh[j] ?? 0;
        HL += hh[j] ?? 0;
        CL += ch[j] ?? 0;
        const CR = idx.length - CL;
        if (CL < params.minSamplesLeaf) continue;
        if (CR < params.minSamplesLeaf) break;
        const GR = G - GL;
        const HR = H - HL;
        const s = (GL * GL) / (HL + lambda) + (GR * GR) / (HR + lambda) - parentScore;
        if (s > best.gain) best = { gain: s, feature: f, bin: j };
      }
    }
    if (best.feature < 0) return leaf(tree, G, H);
    gain[best.feature] = (gain[best.feature] ?? 0) + best.gain;
    const b = bins[best.feature] ?? new Uint8Array(0);
    const leftIdx = idx.filter((i) => (b[i] ?? 0) <= best.bin);
    const rightIdx = idx.filter((i) => (b[i] ?? 0) > best.bin);
    const id = tree.feature.length;
    tree.feature.push(best.feature);
    tree.threshold.push(thresholds[best.feature]?.[best.bin] ?? 0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(0);
    tree.left[id] = buildNode(tree, leftIdx, depth + 1);
    tree.right[id] = buildNode(tree, rightIdx, depth + 1);
    return id;
  }

  const perFeature = Array.from({ length: F }, (_, f) => gains.reduce((s, g) => s + (g[f] ?? 0), 0));
  const total = perFeature.reduce((s, v) => s + v, 0);
  return {
    baseScore,
    trees,
    nFeatures: F,
    importance: perFeature.map((v) => (total > 0 ? v / total : 0)),
    ...(validation ? { validationLoss, bestTrees: trees.length } : {}),
  };
}

/** The leaf value `x` reaches in `tree`; `x(f)` gives feature f (compared in float32). */
export function predictTree(tree: Tree, x: (f: number) => number): number {
  let node = 0;
  for (;;) {
    const f = tree.feature[node] ?? -1;
    if (f < 0) return tree.value[node] ?? 0;
    node = f32(x(f)) < (tree.threshold[node] ?? 0) ? (tree.left[node] ?? 0) : (tree.right[node] ?? 0);
  }
}

/** The model's raw score (log-odds) of one row. */
export function predictMargin(model: GbtModel, row: readonly number[]): number {
  let s = model.baseScore;
  for (const t of model.trees) s += predictTree(t, (f) => row[f] ?? 0);
  return s;
}

/** P(label = 1) of each row. */
export function predictProba(model: GbtModel, X: readonly (readonly number[])[]): number[] {
  return X.map((row) => sigmoid(predictMargin(model, row)));
}
