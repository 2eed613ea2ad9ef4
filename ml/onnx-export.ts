/**
 * ONNX writing with onnx-proto: small builders for graphs, and the export of a GbtModel as an
 * `ai.onnx.ml` TreeEnsembleClassifier (2 classes, post_transform LOGISTIC, outputs `label` int64 [N]
 * and `probabilities` float [N, 2]).
 */
import onnxProto from 'onnx-proto';
import type { GbtModel } from './gbt.ts';

const { onnx } = onnxProto;

/** Names of the exported model's tensors. */
export const ONNX_INPUT_NAME = 'features';
export const ONNX_LABEL_OUTPUT = 'label';
export const ONNX_PROBA_OUTPUT = 'probabilities';
/** Opsets written: default domain 17, ai.onnx.ml 3 (TreeEnsembleClassifier-3). */
export const ONNX_OPSET = 17;
export const ONNX_ML_OPSET = 3;

export type Dim = number | string;
type Attr = number | string | number[] | string[] | { floats: number[] } | { ints: number[] };

/** A tensor value-info (type + shape); string dims are symbolic (e.g. the batch size "N"). */
export function tensorInfo(name: string, elemType: 'float' | 'int64', dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemType === 'float' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** A float initializer. */
export function floatTensor(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values };
}

function attribute(name: string, value: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, type: T.STRINGS, strings: (value as string[]).map((s) => new TextEncoder().encode(s)) };
    }
    return { name, type: T.INTS, ints: value as number[] };
  }
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.INTS, ints: value.ints };
}

/** One graph node; attribute arrays of numbers are INTS, use `{ floats }` for FLOATS. */
export function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, domain = ''): onnxProto.onnx.INodeProto {
  return {
    opType,
    input: inputs,
    output: outputs,
    domain,
    name: `${opType}_${outputs[0] ?? ''}`,
    attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
  };
}

export interface GraphSpec {
  name: string;
  nodes: onnxProto.onnx.INodeProto[];
  inputs: onnxProto.onnx.IValueInfoProto[];
  outputs: onnxProto.onnx.IValueInfoProto[];
  initializers?: onnxProto.onnx.ITensorProto[];
  /** Also import ai.onnx.ml. */
  ml?: boolean;
  metadata?: Record<string, string>;
}

/** Serialises a model (IR version 8) to bytes. */
export function encodeModel(spec: GraphSpec): Uint8Array {
  const opsetImport: onnxProto.onnx.IOperatorSetIdProto[] = [{ domain: '', version: ONNX_OPSET }];
  if (spec.ml) opsetImport.push({ domain: 'ai.onnx.ml', version: ONNX_ML_OPSET });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'quorum',
    producerVersion: '0.1.0',
    opsetImport,
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.name,
      node: spec.nodes,
      input: spec.inputs,
      output: spec.outputs,
      initializer: spec.initializers ?? [],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Exports a binary GbtModel as a TreeEnsembleClassifier. Every leaf weight carries class id 0, as
 * skl2onnx writes binary boosters: onnxruntime then treats it as the binary case and, with one base
 * value and LOGISTIC, returns probabilities [1 - σ(s), σ(s)] for s = base + Σ leaves (verified by the
 * parity test; class id 1 would give [0.5, σ(s - base)]).
 */
export function gbtToOnnx(model: GbtModel, metadata: Record<string, string> = {}): Uint8Array {
  const nodesTree: number[] = [];
  const nodesId: number[] = [];
  const nodesFeature: number[] = [];
  const nodesMode: string[] = [];
  const nodesValue: number[] = [];
  const nodesTrue: number[] = [];
  const nodesFalse: number[] = [];
  const classTree: number[] = [];
  const classNode: number[] = [];
  const classIds: number[] = [];
  const classWeights: number[] = [];
  model.trees.forEach((tree, t) => {
    for (let i = 0; i < tree.feature.length; i++) {
      const f = tree.feature[i] ?? -1;
      nodesTree.push(t);
      nodesId.push(i);
      if (f < 0) {
        nodesFeature.push(0);
        nodesMode.push('LEAF');
        nodesValue.push(0);
        nodesTrue.push(0);
        nodesFalse.push(0);
        classTree.push(t);
        classNode.push(i);
        classIds.push(0);
        classWeights.push(tree.value[i] ?? 0);
      } else {
        nodesFeature.push(f);
        nodesMode.push('BRANCH_LT');
        nodesValue.push(tree.threshold[i] ?? 0);
        nodesTrue.push(tree.left[i] ?? 0);
        nodesFalse.push(tree.right[i] ?? 0);
      }
    }
  });
  const ensemble = node(
    'TreeEnsembleClassifier',
    [ONNX_INPUT_NAME],
    [ONNX_LABEL_OUTPUT, ONNX_PROBA_OUTPUT],
    {
      nodes_treeids: nodesTree,
      nodes_nodeids: nodesId,
      nodes_featureids: nodesFeature,
      nodes_modes: nodesMode,
      nodes_values: { floats: nodesValue },
      nodes_truenodeids: nodesTrue,
      nodes_falsenodeids: nodesFalse,
      class_treeids: classTree,
      class_nodeids: classNode,
      class_ids: classIds,
      class_weights: { floats: classWeights },
      classlabels_int64s: { ints: [0, 1] },
      post_transform: 'LOGISTIC',
      base_values: { floats: [model.baseScore] },
    },
    'ai.onnx.ml',
  );
  return encodeModel({
    name: 'quorum_gbt',
    nodes: [ensemble],
    inputs: [tensorInfo(ONNX_INPUT_NAME, 'float', ['N', model.nFeatures])],
    outputs: [tensorInfo(ONNX_LABEL_OUTPUT, 'int64', ['N']), tensorInfo(ONNX_PROBA_OUTPUT, 'float', ['N', 2])],
    ml: true,
    metadata,
  });
}
