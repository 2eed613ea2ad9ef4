export {
  FEATURE_SET,
  FEATURE_NAMES,
  CLOSE_FEATURES,
  OHLCV_FEATURES,
  FEATURE_PARAMS,
  WARMUP_BARS,
  computeFeatures,
  computeFeatureColumns,
  storeFeatureSnapshot,
  featureSnapshotFromBars,
  FeatureRow,
  type FeatureName,
  type FeatureSnapshot,
  type FeatureColumns,
} from './features.ts';
export { trainGbt, predictProba, predictMargin, sigmoid, type GbtModel, type GbtParams, type Tree } from './gbt.ts';
export { classificationMetrics, rocAuc, ClassificationMetrics, CalibrationBin } from './metrics.ts';
export { ModelCard, FoldReport, readModelCard } from './card.ts';
export { gbtToOnnx, encodeModel, node, tensorInfo, floatTensor, ONNX_INPUT_NAME, ONNX_LABEL_OUTPUT, ONNX_PROBA_OUTPUT } from './onnx-export.ts';
export {
  buildDataset,
  samplesFromBars,
  sortSamples,
  walkForward,
  trainModel,
  exportModel,
  type Sample,
  type DatasetOptions,
  type TrainOptions,
  type TrainResult,
  type ExportModelOptions,
  type ExportedModel,
} from './train.ts';
export {
  loadProposer,
  propose,
  proposeOne,
  proposeIdea,
  type TradeIdea,
  checkProposalDate,
  scoreSnapshot,
  storeProposals,
  proposalsAt,
  expectedReturn,
  stripZipMap,
  type Proposer,
  type ProposeOptions,
  type ProposeResult,
  type ScoreOptions,
} from './proposer.ts';
export { registerModel, setModelStage, listModels, ModelStage, RegisteredModel } from './registry.ts';
export { storeOutsideProposal, type ProposalOrigin } from './store-proposal.ts';
export * from './read-models.ts';
export {
  measureModelHealth,
  gateFor,
  overrideModel,
  revokeModelOverride,
  activeOverride,
  listModelOverrides,
  listModelHealth,
  readSessionModelHealth,
  ModelGate,
  ModelHealthView,
  ModelOverrideView,
  type GateDecision,
  type OverrideInput,
} from './drift-gate.ts';
