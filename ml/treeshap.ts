/**
 * Exact attributions for tree models: path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2)
 * computed from an ONNX `ai.onnx.ml` TreeEnsembleClassifier/Regressor itself, whichever tool wrote it
 * (our exporter, onnxmltools for XGBoost/LightGBM, skl2onnx).
 *
 * ONNX tree ensembles carry no node covers (how many training rows passed through each node), which
 * path-dependent TreeSHAP weighs the branches a feature outside the coalition would take. The covers
 * are counted here from a background sample (the training sample stored with the model card), plus one
 * pseudo-row per leaf so that a node the sample never reached still has a positive cover and every
 * cover is the sum of its children's. Values are in the model's margin (log-odds for LOGISTIC): the
 * expected value plus the attributions equals the margin of the row exactly (up to float rounding).
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Node split rule, as ONNX names it: the condition under which the row goes to the `true` child. */
export type BranchMode = 'BRANCH_LEQ' | 'BRANCH_LT' | 'BRANCH_GTE' | 'BRANCH_GT' | 'BRANCH_EQ' | 'BRANCH_NEQ';

/** One tree, flat; node i is a leaf when feature[i] === -1 (then value[i] is its weight). */
export interface ShapTree {
  feature: number[];
  threshold: number[];
  mode: BranchMode[];
  yes: number[];
  no: number[];
  /** A missing (NaN) value follows the `true` branch. */
  missingYes: boolean[];
  value: number[];
  /** Background rows (plus pseudo-counts) through each node; set by `withCovers`. */
  cover: number[];
}

export interface ShapEnsemble {
  trees: ShapTree[];
  /** Added to every tree sum. */
  base: number;
  /** The margin's transform to a probability: LOGISTIC or NONE. */
  postTransform: 'LOGISTIC' | 'NONE';
  nFeatures: number;
}

/** Why an ONNX model has no exact tree attributions (a non-tree model, multi-class, ...). */
export class NotATreeEnsemble extends Error {}

const ML_OPS = new Set(['TreeEnsembleClassifier', 'TreeEnsembleRegressor']);
const MODES = new Set<string>(['BRANCH_LEQ', 'BRANCH_LT', 'BRANCH_GTE', 'BRANCH_GT', 'BRANCH_EQ', 'BRANCH_NEQ']);

function attrMap(n: onnxProto.onnx.INodeProto): Map<string, onnxProto.onnx.IAttributeProto> {
  return new Map((n.attribute ?? []).map((a) => [a.name ?? '', a]));
}

const ints = (a: onnxProto.onnx.IAttributeProto | undefined): number[] => (a?.ints ?? []).map((v) => Number(v));
const floats = (a: onnxProto.onnx.IAttributeProto | undefined): number[] => [...(a?.floats ?? [])];
const strings = (a: onnxProto.onnx.IAttributeProto | undefined): string[] => (a?.strings ?? []).map((s) => new TextDecoder().decode(s));

/**
 * Reads the single TreeEnsemble node of an ONNX model into trees with one score (a binary classifier
 * whose leaf weights all name one class, as XGBoost, LightGBM and our exporter write them, or a
 * one-target regressor). Anything else throws NotATreeEnsemble saying why.
 */
export function shapEnsembleFromOnnx(bytes: Uint8Array, nFeatures: number): ShapEnsemble {
  const model = onnx.ModelProto.decode(bytes);
  const nodes = model.graph?.node ?? [];
  const ens = nodes.filter((n) => ML_OPS.has(n.opType ?? ''));
  if (ens.length !== 1) throw new NotATreeEnsemble(`expected one TreeEnsemble node, found ${ens.length}`);
  const n = ens[0];
  if (!n) throw new NotATreeEnsemble('no TreeEnsemble node');
  const a = attrMap(n);
  const isClassifier = n.opType === 'TreeEnsembleClassifier';
  const prefix = isClassifier ? 'class' : 'target';
  if (a.has('nodes_values_as_tensor') || a.has(`${prefix}_weights_as_tensor`))
    throw new NotATreeEnsemble('double-precision tensor attributes are not supported');
  const treeIds = ints(a.get('nodes_treeids'));
  const nodeIds = ints(a.get('nodes_nodeids'));
  const featureIds = ints(a.get('nodes_featureids'));
  const modes = strings(a.get('nodes_modes'));
  const values = floats(a.get('nodes_values'));
  const trueIds = ints(a.get('nodes_truenodeids'));
  const falseIds = ints(a.get('nodes_falsenodeids'));
  const missing = ints(a.get('nodes_missing_value_tracks_true'));
  const wTree = ints(a.get(`${prefix}_treeids`));
  const wNode = ints(a.get(`${prefix}_nodeids`));
  const wClass = ints(a.get(`${prefix}_ids`));
  const wValue = floats(a.get(`${prefix}_weights`));
  if (new Set(wClass).size > 1) throw new NotATreeEnsemble(`leaf weights name ${new Set(wClass).size} classes; only one score is supported`);
  const aggregate = strings(a.get('aggregate_function'))[0] ?? new TextDecoder().decode(a.get('aggregate_function')?.s ?? new Uint8Array());
  if (aggregate && aggregate !== 'SUM') throw new NotATreeEnsemble(`aggregate_function ${aggregate} is not SUM`);
  const post = new TextDecoder().decode(a.get('post_transform')?.s ?? new Uint8Array()) || 'NONE';
  if (post !== 'LOGISTIC' && post !== 'NONE') throw new NotATreeEnsemble(`post_transform ${post} is not LOGISTIC or NONE`);
  const baseValues = floats(a.get('base_values'));
  if (baseValues.length > 1) throw new NotATreeEnsemble(`${baseValues.length} base values; only one score is supported`);

  const byTree = new Map<number, Map<number, number>>();
  treeIds.forEach((t, k) => {
    let m = byTree.get(t);
    if (!m) byTree.set(t, (m = new Map()));
    m.set(nodeIds[k] ?? 0, k);
  });
  const trees: ShapTree[] = [];
  for (const t of [...byTree.keys()].sort((x, y) => x - y)) {
    const index = byTree.get(t) ?? new Map<number, number>();
    // Dense, 0-based local ids in node-id order; the root is node id 0 (ONNX's convention).
    const ids = [...index.keys()].sort((x, y) => x - y);
    if (ids[0] !== 0) throw new NotATreeEnsemble(`tree ${t} has no node 0`);
    const local = new Map(ids.map((id, i) => [id, i]));
    const tree: ShapTree = { feature: [], threshold: [], mode: [], yes: [], no: [], missingYes: [], value: [], cover: [] };
    for (const id of ids) {
      const k = index.get(id) ?? 0;
      const mode = modes[k] ?? 'LEAF';
      if (mode === 'LEAF') {
        tree.feature.push(-1);
        tree.threshold.push(0);
        tree.mode.push('BRANCH_LT');
        tree.yes.push(-1);
        tree.no.push(-1);
        tree.missingYes.push(false);
      } else {
        if (!MODES.has(mode)) throw new NotATreeEnsemble(`tree ${t} node ${id}: unknown mode ${mode}`);
        const f = featureIds[k] ?? -1;
        if (f < 0 || f >= nFeatures) throw new NotATreeEnsemble(`tree ${t} node ${id}: feature ${f} outside 0..${nFeatures - 1}`);
        const yes = local.get(trueIds[k] ?? -1);
        const no = local.get(falseIds[k] ?? -1);
        if (yes === undefined || no === undefined) throw new NotATreeEnsemble(`tree ${t} node ${id}: child missing`);
        tree.feature.push(f);
        tree.threshold.push(values[k] ?? 0);
        tree.mode.push(mode as BranchMode);
        tree.yes.push(yes);
        tree.no.push(no);
        tree.missingYes.push((missing[k] ?? 0) === 1);
      }
      tree.value.push(0);
      tree.cover.push(0);
    }
    trees.push(tree);
    byTree.set(t, new Map(ids.map((id, i) => [id, i])));
  }
  const localOf = (t: number, id: number): number | undefined => byTree.get(t)?.get(id);
  const treeIndex = new Map([...byTree.keys()].sort((x, y) => x - y).map((t, i) => [t, i]));
  wTree.forEach((t, k) => {
    const tree = trees[treeIndex.get(t) ?? -1];
    const i = localOf(t, wNode[k] ?? -1);
    if (!tree || i === undefined) throw new NotATreeEnsemble(`weight ${k} names tree ${t} node ${wNode[k]}, which does not exist`);
    if ((tree.feature[i] ?? 0) !== -1) throw new NotATreeEnsemble(`weight ${k} is on a branch node`);
    tree.value[i] = (tree.value[i] ?? 0) + (wValue[k] ?? 0);
  });
  return { trees, base: baseValues[0] ?? 0, postTransform: post, nFeatures };
}

/** Whether row value `x` (as float32, as onnxruntime reads it) goes to the `true` child of node i. */
function goesYes(tree: ShapTree, i: number, x: number): boolean {
  if (Number.isNaN(x)) return tree.missingYes[i] ?? false;
  const v = Math.fround(x);
  const t = tree.threshold[i] ?? 0;
  switch (tree.mode[i]) {
    case 'BRANCH_LEQ':
      return v <= t;
    case 'BRANCH_LT':
      return v < t;
    case 'BRANCH_GTE':
      return v >= t;
    case 'BRANCH_GT':
      return v > t;
    case 'BRANCH_EQ':
      return v === t;
    default:
      return v !== t;
  }
}

/** The child of branch node i that row `x` follows. */
export function hotChild(tree: ShapTree, i: number, x: readonly number[]): number {
  return goesYes(tree, i, x[tree.feature[i] ?? 0] ?? Number.NaN) ? (tree.yes[i] ?? 0) : (tree.no[i] ?? 0);
}

/** The ensemble with covers counted from `rows` (each leaf also gets `pseudo` rows, default 1). */
export function withCovers(ensemble: ShapEnsemble, rows: readonly (readonly number[])[], pseudo = 1): ShapEnsemble {
  const trees = ensemble.trees.map((tree) => {
    const leafCount = tree.feature.map(() => 0);
    for (const x of rows) {
      let i = 0;
      while ((tree.feature[i] ?? -1) !== -1) i = hotChild(tree, i, x);
      leafCount[i] = (leafCount[i] ?? 0) + 1;
    }
    const cover = tree.feature.map(() => 0);
    const fill = (i: number): number => {
      const c = (tree.feature[i] ?? -1) === -1 ? (leafCount[i] ?? 0) + pseudo : fill(tree.yes[i] ?? 0) + fill(tree.no[i] ?? 0);
      cover[i] = c;
      return c;
    };
    fill(0);
    return { ...tree, cover };
  });
  return { ...ensemble, trees };
}

/** The ensemble's margin (base + Σ leaf weights) for row x. */
export function margin(ensemble: ShapEnsemble, x: readonly number[]): number {
  let s = ensemble.base;
  for (const tree of ensemble.trees) {
    let i = 0;
    while ((tree.feature[i] ?? -1) !== -1) i = hotChild(tree, i, x);
    s += tree.value[i] ?? 0;
  }
  return s;
}

/** The cover-weighted mean margin: E[f] under the covers, what the attributions start from. */
export function expectedMargin(ensemble: ShapEnsemble): number {
  let s = ensemble.base;
  for (const tree of ensemble.trees) {
    const root = tree.cover[0] ?? 0;
    if (!(root > 0)) throw new Error('expectedMargin: covers not set (withCovers)');
    tree.feature.forEach((f, i) => {
      if (f === -1) s += ((tree.value[i] ?? 0) * (tree.cover[i] ?? 0)) / root;
    });
  }
  return s;
}

interface PathElement {
  d: number;
  z: number;
  o: number;
  w: number;
}

function extend(m: PathElement[], pz: number, po: number, pi: number): PathElement[] {
  const l = m.length;
  const out = m.map((e) => ({ ...e }));
  out.push({ d: pi, z: pz, o: po, w: l === 0 ? 1 : 0 });
  for (let i = l - 1; i >= 0; i--) {
    const ei = out[i] as PathElement;
    const next = out[i + 1] as PathElement;
    next.w += (po * ei.w * (i + 1)) / (l + 1);
    ei.w = (pz * ei.w * (l - i)) / (l + 1);
  }
  return out;
}

function unwind(m: PathElement[], i: number): PathElement[] {
  const l = m.length - 1;
  const out = m.map((e) => ({ ...e }));
  const { z, o } = out[i] as PathElement;
  let n = (out[l] as PathElement).w;
  for (let j = l - 1; j >= 0; j--) {
    const ej = out[j] as PathElement;
    if (o !== 0) {
      const t = ej.w;
      ej.w = (n * (l + 1)) / ((j + 1) * o);
      n = t - (ej.w * z * (l - j)) / (l + 1);
    } else {
      ej.w = (ej.w * (l + 1)) / (z * (l - j));
    }
  }
  for (let j = i; j < l; j++) {
    const ej = out[j] as PathElement;
    const nx = out[j + 1] as PathElement;
    ej.d = nx.d;
    ej.z = nx.z;
    ej.o = nx.o;
  }
  out.pop();
  return out;
}

function unwoundSum(m: PathElement[], i: number): number {
  const l = m.length - 1;
  const { z, o } = m[i] as PathElement;
  let n = (m[l] as PathElement).w;
  let total = 0;
  for (let j = l - 1; j >= 0; j--) {
    if (o !== 0) {
      const t = (n * (l + 1)) / ((j + 1) * o);
      total += t;
      n = (m[j] as PathElement).w - (t * z * (l - j)) / (l + 1);
    } else {
      total += ((m[j] as PathElement).w * (l + 1)) / (z * (l - j));
    }
  }
  return total;
}

function treeShapOne(tree: ShapTree, x: readonly number[], phi: number[]): void {
  const recurse = (j: number, m0: PathElement[], pz: number, po: number, pi: number): void => {
    let m = extend(m0, pz, po, pi);
    const f = tree.feature[j] ?? -1;
    if (f === -1) {
      const v = tree.value[j] ?? 0;
      for (let i = 1; i < m.length; i++) {
        const e = m[i] as PathElement;
        phi[e.d] = (phi[e.d] ?? 0) + unwoundSum(m, i) * (e.o - e.z) * v;
      }
      return;
    }
    const hot = hotChild(tree, j, x);
    const cold = hot === tree.yes[j] ? (tree.no[j] ?? 0) : (tree.yes[j] ?? 0);
    let iz = 1;
    let io = 1;
    const k = m.findIndex((e, idx) => idx > 0 && e.d === f);
    if (k > 0) {
      const e = m[k] as PathElement;
      iz = e.z;
      io = e.o;
      m = unwind(m, k);
    }
    const rj = tree.cover[j] ?? 0;
    recurse(hot, m, (iz * (tree.cover[hot] ?? 0)) / rj, io, f);
    recurse(cold, m, (iz * (tree.cover[cold] ?? 0)) / rj, 0, f);
  };
  recurse(0, [], 1, 1, -1);
}

export interface TreeShapResult {
  /** One value per input feature, in the margin's units. */
  phi: number[];
  /** E[f] under the covers. */
  expected: number;
  /** The row's margin; expected + Σ phi equals it. */
  margin: number;
}

/** Exact path-dependent TreeSHAP values of row x (the ensemble must have covers: `withCovers`). */
export function treeShap(ensemble: ShapEnsemble, x: readonly number[]): TreeShapResult {
  const phi = new Array<number>(ensemble.nFeatures).fill(0);
  for (const tree of ensemble.trees) {
    if (!((tree.cover[0] ?? 0) > 0)) throw new Error('treeShap: covers not set (withCovers)');
    if ((tree.feature[0] ?? -1) === -1) continue;
    treeShapOne(tree, x, phi);
  }
  return { phi, expected: expectedMargin(ensemble), margin: margin(ensemble, x) };
}
