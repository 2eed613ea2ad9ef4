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
  walkForwardWithPredictions,
  foldSplits,
  splitSamples,
  searchHyperparameters,
  datasetDigest,
  trainModel,
  exportModel,
  type Sample,
  type DatasetOptions,
  type TrainOptions,
  type TrainResult,
  type ExportModelOptions,
  type ExportedModel,
  type TrainingSettings,
  type FoldSplit,
  type WalkForwardResult,
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
  brierScore,
  logLoss,
  fitPlatt,
  fitIsotonic,
  fitCalibration,
  applyCalibration,
  CalibrationMap,
  CardCalibration,
  CalibrationMethod,
} from './calibration.ts';
export {
  decidePromotion,
  judgePromotion,
  promoteByHand,
  recordDecision,
  listPromotions,
  productionCardPath,
  proposerCardPath,
  ruleAllows,
  worsening,
  metricOf,
  whoAmI,
  PromotionDecision,
  type PromotionRule,
  type PromotionActor,
  type CandidateModel,
  type ProductionModel,
  type PromotionJudgement,
} from './promotion.ts';
export { retrain, type RetrainOptions, type RetrainResult } from './retrain.ts';
export { trainingMatrixCsv, TRAINING_CSV_COLUMNS_BEFORE, TRAINING_CSV_COLUMNS_AFTER } from './export.ts';
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
