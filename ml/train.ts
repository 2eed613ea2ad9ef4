/**
 * Training: labelled samples from point-in-time features, walk-forward validation (expanding window,
 * purge gap = horizon), a final GBT on every labelled sample, ONNX export, model card, registry entry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { QuorumError } from '../contracts/errors.ts';
import { parseOrThrow } from '../contracts/parse.ts';
import { mulberry32 } from '../contracts/random.ts';
import type { Settings } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { barCoverage, barsAsOf, utcToNewYork, type Bar } from '../market/index.ts';
import { fitCalibration, type CardCalibration } from './calibration.ts';
import { ModelCard, type FoldReport, type SearchCandidate, type SearchReport } from './card.ts';
import { CLOSE_FEATURES, FEATURE_NAMES, FEATURE_SET, computeFeatureColumns, type FeatureName } from './features.ts';
import { predictProba, trainGbt, type GbtModel, type GbtParams } from './gbt.ts';
import { classificationMetrics } from './metrics.ts';
import { ONNX_INPUT_NAME, gbtToOnnx } from './onnx-export.ts';
import { registerModel, type ModelStage } from './registry.ts';

/** One labelled sample: features at the close of `date`, label from the forward return over the horizon. */
export interface Sample {
  ticker: string;
  /** New York date of the bar. */
  date: string;
  x: number[];
  forwardReturn: number;
  y: 0 | 1;
}

export interface DatasetOptions {
  tickers: readonly string[];
  features: readonly string[];
  horizonDays: number;
  labelThreshold: number;
  /** Only bars up to this instant are read (point in time); default: all. */
  asOf?: string;
}

function checkFeatures(features: readonly string[]): FeatureName[] {
  const unknown = features.filter((f) => !(FEATURE_NAMES as readonly string[]).includes(f));
  if (unknown.length) throw new QuorumError('INPUT_INVALID', `unknown feature(s): ${unknown.join(', ')}`, { field: 'features' });
  return features as FeatureName[];
}

/**
 * Samples of one ticker's bars (oldest first) where all features are defined and the forward return
 * over the horizon is known within these bars. Pure: the caller decides which bars are known.
 */
export function samplesFromBars(ticker: string, bars: readonly Bar[], options: Omit<DatasetOptions, 'tickers' | 'asOf'>): Sample[] {
  const features = checkFeatures(options.features);
  const h = options.horizonDays;
  const cols = computeFeatureColumns(bars);
  const samples: Sample[] = [];
  for (let i = 0; i + h < bars.length; i++) {
    const x = features.map((f) => cols.columns[f][i] ?? Number.NaN);
    if (!x.every(Number.isFinite)) continue;
    const now = bars[i];
    const later = bars[i + h];
    if (!now || !later) continue;
    const forwardReturn = later.close / now.close - 1;
    samples.push({ ticker, date: utcToNewYork(now.ts).date, x, forwardReturn, y: forwardReturn > options.labelThreshold ? 1 : 0 });
  }
  return samples;
}

/** Orders samples by date, then ticker (the order every consumer of a dataset relies on). */
export function sortSamples(samples: Sample[]): Sample[] {
  return samples.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.ticker < b.ticker ? -1 : a.ticker > b.ticker ? 1 : 0));
}

/**
 * Samples of every ticker and bar where all features are defined and the forward return over the
 * horizon is known, ordered by date then ticker. Label = forward return > threshold.
 */
export async function buildDataset(db: Db, options: DatasetOptions): Promise<Sample[]> {
  checkFeatures(options.features);
  const samples: Sample[] = [];
  for (const ticker of options.tickers) {
    const bars = await barsAsOf(db, { ticker, asOf: options.asOf ?? '9999-12-31T00:00:00Z' });
    samples.push(...samplesFromBars(ticker, bars, options));
  }
  return sortSamples(samples);
}

/** The dates of one walk-forward fold: train on every date up to trainEnd, test on testStart..testEnd. */
export interface FoldSplit {
  fold: number;
  trainStart: string;
  trainEnd: string;
  testStart: string;
  testEnd: string;
}

/**
 * Walk-forward splits: the dates are cut into folds + 1 blocks; fold k tests on block k and trains on
 * every date before it except the last `horizonDays` dates (purge: their labels overlap the test window).
 */
export function foldSplits(samples: readonly Sample[], folds: number, horizonDays: number): FoldSplit[] {
  const dates = [...new Set(samples.map((s) => s.date))].sort();
  const blocks = folds + 1;
  const splits: FoldSplit[] = [];
  for (let k = 1; k <= folds; k++) {
    const testStartIdx = Math.floor((k * dates.length) / blocks);
    const testEndIdx = Math.floor(((k + 1) * dates.length) / blocks) - 1;
    const trainEndIdx = testStartIdx - horizonDays - 1;
    const trainEnd = dates[trainEndIdx];
    const testStart = dates[testStartIdx];
    const testEnd = dates[testEndIdx];
    if (trainEnd === undefined || testStart === undefined || testEnd === undefined) {
      throw new QuorumError('INPUT_INVALID', `too few dates (${dates.length}) for ${folds} folds with a ${horizonDays}-day purge`, { folds });
    }
    splits.push({ fold: k, trainStart: dates[0] ?? '', trainEnd, testStart, testEnd });
  }
  return splits;
}

/** The training and test samples of a split. */
export function splitSamples(samples: readonly Sample[], split: FoldSplit): { train: Sample[]; test: Sample[] } {
  return {
    train: samples.filter((s) => s.date <= split.trainEnd),
    test: samples.filter((s) => s.date >= split.testStart && s.date <= split.testEnd),
  };
}

/** Walk-forward fold reports plus every fold's out-of-fold predictions (what calibration is fitted on). */
export interface WalkForwardResult {
  reports: FoldReport[];
  oof: { p: number[]; y: number[]; fold: number[] };
}

export function walkForwardWithPredictions(samples: readonly Sample[], folds: number, horizonDays: number, params: GbtParams): WalkForwardResult {
  const reports: FoldReport[] = [];
  const oof: WalkForwardResult['oof'] = { p: [], y: [], fold: [] };
  for (const split of foldSplits(samples, folds, horizonDays)) {
    const { train, test } = splitSamples(samples, split);
    const model = trainGbt(
      train.map((s) => s.x),
      train.map((s) => s.y),
      params,
    );
    const p = predictProba(
      model,
      test.map((s) => s.x),
    );
    const y = test.map((s) => s.y);
    for (let i = 0; i < p.length; i++) {
      oof.p.push(p[i] ?? 0.5);
      oof.y.push(y[i] ?? 0);
      oof.fold.push(split.fold);
    }
    reports.push({ ...split, trainRows: train.length, metrics: classificationMetrics(p, y) });
  }
  return { reports, oof };
}

/** Walk-forward validation (see foldSplits): one out-of-sample report per fold. */
export function walkForward(samples: readonly Sample[], folds: number, horizonDays: number, params: GbtParams): FoldReport[] {
  return walkForwardWithPredictions(samples, folds, horizonDays, params).reports;
}

/**
 * The hyper-parameter search: up to `search.candidates` grid points drawn without replacement by a
 * seeded shuffle (none: the configured values alone), each trained on the validation fold's training
 * window with early stopping on its test window (the walk-forward fold before the last: the last one
 * stays for the comparison with production). The lowest validation log loss wins; ties go to the
 * earlier draw. Null when there is neither a search nor early stopping.
 */
export function searchHyperparameters(samples: readonly Sample[], t: TrainingSettings): SearchReport | null {
  const candidatesWanted = t.search?.candidates ?? 0;
  const rounds = t.earlyStoppingRounds ?? null;
  if (candidatesWanted === 0 && rounds === null) return null;
  const splits = foldSplits(samples, t.folds, t.horizonDays);
  const split = splits[splits.length - 2] ?? splits[0];
  if (!split) return null;
  const { train, test } = splitSamples(samples, split);
  let grid: Array<{ maxDepth: number; trees: number; learningRate: number }> = [{ maxDepth: t.maxDepth, trees: t.trees, learningRate: t.learningRate }];
  if (candidatesWanted > 0 && t.search) {
    const all = t.search.maxDepth.flatMap(
      (maxDepth) => t.search?.trees.flatMap((trees) => (t.search?.learningRate ?? []).map((learningRate) => ({ maxDepth, trees, learningRate }))) ?? [],
    );
    const rand = mulberry32(t.search.seed);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const a = all[i];
      const b = all[j];
      if (a && b) {
        all[i] = b;
        all[j] = a;
      }
    }
    grid = all.slice(0, candidatesWanted);
  }
  const X = train.map((s) => s.x);
  const y = train.map((s) => s.y);
  const validation = { X: test.map((s) => s.x), y: test.map((s) => s.y) };
  const candidates: SearchCandidate[] = grid.map((g) => {
    const model = trainGbt(X, y, { ...g, minSamplesLeaf: t.minSamplesLeaf, ...(rounds === null ? {} : { earlyStoppingRounds: rounds }) }, validation);
    const bestTrees = model.bestTrees ?? g.trees;
    return { ...g, bestTrees, validationLogLoss: model.validationLoss?.[bestTrees - 1] ?? Number.NaN };
  });
  let chosen = candidates[0];
  for (const c of candidates) if (chosen && c.validationLogLoss < chosen.validationLogLoss) chosen = c;
  if (!chosen) return null;
  return {
    seed: t.search?.seed ?? 0,
    earlyStoppingRounds: rounds,
    validation: {
      fold: split.fold,
      trainEnd: split.trainEnd,
      testStart: split.testStart,
      testEnd: split.testEnd,
      trainRows: train.length,
      testRows: test.length,
    },
    candidates,
    chosen,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/** settings.training; the calibration, early stopping and search keys may be left out (none of them then). */
export type TrainingSettings = Omit<Settings['training'], 'calibration' | 'earlyStoppingRounds' | 'search'> &
  Partial<Pick<Settings['training'], 'calibration' | 'earlyStoppingRounds' | 'search'>>;

export interface ExportModelOptions {
  model: GbtModel;
  /** The samples the model was trained on (ordered by date): the card cites their window and digest. */
  samples: readonly Sample[];
  features: readonly FeatureName[];
  tickers: readonly string[];
  training: TrainingSettings;
  /** The parameters the model was trained with (default: the training settings'). */
  params?: GbtParams;
  /** Walk-forward folds (empty when none were run). */
  folds: FoldReport[];
  calibration?: CardCalibration | null;
  search?: SearchReport | null;
  modelId: string;
  /** Folder for model.onnx and model-card.json. */
  outDir: string;
  /** Write into `<outDir>/<version>/` instead (each version its own folder: a staging model never overwrites production's files). */
  versionDir?: boolean;
  description?: string;
  reproduce?: string;
  now?: Date;
}

export interface ExportedModel {
  card: ModelCard;
  cardPath: string;
  onnxPath: string;
  /** sha256 of the training matrix, and the id of the training feature snapshot named by the card. */
  datasetSha: string;
  snapshotId: string;
}

/** sha256 of the training matrix: one `ticker,date,x…,y` line per sample (the card's featureSnapshotId cites it). */
export function datasetDigest(samples: readonly Sample[]): string {
  const digest = createHash('sha256');
  for (const s of samples) digest.update(`${s.ticker},${s.date},${s.x.join(',')},${s.y}\n`);
  return digest.digest('hex');
}

/** Rows kept in the card as the training sample (TreeSHAP's node covers, drift's reference). */
export const TRAINING_SAMPLE_ROWS = 500;

/** Up to TRAINING_SAMPLE_ROWS feature rows, evenly spaced over the (date-ordered) samples; float32 values. */
export function trainingSample(samples: readonly Sample[], size = TRAINING_SAMPLE_ROWS): number[][] {
  const n = samples.length;
  const k = Math.min(size, n);
  return Array.from({ length: k }, (_, i) => (samples[Math.floor((i * n) / k)]?.x ?? []).map((v) => Math.fround(v)));
}

/** Writes a trained model as ONNX plus its model card into `outDir` (no database). */
export function exportModel(options: ExportModelOptions): ExportedModel {
  const { model, samples, features, tickers, folds } = options;
  const t = options.training;
  // The training set, cited by the card: a digest of the matrix rather than 10^5 rows of JSON.
  const datasetSha = datasetDigest(samples);
  const first = samples[0]?.date ?? '';
  const last = samples[samples.length - 1]?.date ?? '';
  const snapshotId = `fs_train_${datasetSha.slice(0, 20)}`;
  const params: GbtParams = options.params ?? { trees: t.trees, maxDepth: t.maxDepth, learningRate: t.learningRate, minSamplesLeaf: t.minSamplesLeaf };
  const bytes = gbtToOnnx(model, { feature_set: `${FEATURE_SET.name}@${FEATURE_SET.version}`, features: features.join(',') });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const pos = samples.filter((s) => s.y === 1).map((s) => s.forwardReturn);
  const neg = samples.filter((s) => s.y === 0).map((s) => s.forwardReturn);
  // Without folds there is nothing to average: null, not a mean of nothing.
  const foldMean = (pick: (f: FoldReport) => number): number | null => (folds.length ? mean(folds.map(pick)) : null);
  const summary: Record<string, number | null> = {
    meanAccuracy: foldMean((f) => f.metrics.accuracy),
    meanAuc: foldMean((f) => f.metrics.auc ?? 0.5),
    meanLogLoss: foldMean((f) => f.metrics.logLoss),
    meanBrier: foldMean((f) => f.metrics.brier ?? Number.NaN),
    meanBaseRate: foldMean((f) => f.metrics.baseRate),
  };
  const card = parseOrThrow(
    ModelCard,
    {
      schemaVersion: 1,
      modelId: options.modelId,
      version: sha256.slice(0, 12),
      createdAt: (options.now ?? new Date()).toISOString(),
      description: options.description ?? `Gradient-boosted trees (${params.trees} trees, depth ${params.maxDepth}) on ${FEATURE_SET.name} features`,
      onnxFile: 'model.onnx',
      sha256,
      input: { name: ONNX_INPUT_NAME, features: [...features] },
      outputs: { probabilities: 'probabilities' },
      featureSet: { name: FEATURE_SET.name, version: FEATURE_SET.version },
      labels: { horizonDays: t.horizonDays, threshold: t.labelThreshold },
      trainingWindow: { start: first, end: last, tickers: [...tickers] },
      featureSnapshotId: snapshotId,
      baseline: features.map((_, j) => median(samples.map((s) => s.x[j] ?? 0))),
      returnStats: { meanReturnPositive: mean(pos), meanReturnNegative: mean(neg) },
      metrics: { folds, summary },
      featureImportance: Object.fromEntries(features.map((f, j) => [f, model.importance[j] ?? 0])),
      hyperparameters: { ...params, lambda: 1, maxBins: 64, samples: samples.length },
      ...(options.calibration ? { calibration: options.calibration } : {}),
      ...(options.search ? { search: options.search } : {}),
      reproduce: options.reproduce ?? '',
      trainingSample: { rows: trainingSample(samples) },
    },
    'model card',
    'INTERNAL',
  );
  const dir = options.versionDir ? path.join(options.outDir, card.version) : options.outDir;
  mkdirSync(dir, { recursive: true });
  const onnxPath = path.join(dir, 'model.onnx');
  const cardPath = path.join(dir, 'model-card.json');
  writeFileSync(onnxPath, bytes);
  writeFileSync(cardPath, `${JSON.stringify(card, null, 2)}\n`);
  return { card, cardPath, onnxPath, datasetSha, snapshotId };
}

export interface TrainOptions {
  training: TrainingSettings;
  modelId: string;
  /** Folder for model.onnx and model-card.json. */
  outDir: string;
  /** Write into `<outDir>/<version>/` (see ExportModelOptions.versionDir). */
  versionDir?: boolean;
  /** Default: every ticker with bars. */
  tickers?: readonly string[];
  /** Default: the close-only features (every ticker has them). */
  features?: readonly string[];
  description?: string;
  reproduce?: string;
  now?: Date;
  /** Train only on bars up to this instant (labels included): the days after it stay out of sample. */
  asOf?: string;
  /** Registry stage of the new version (default research); a version already registered keeps its stage. */
  stage?: ModelStage;
}

export interface TrainResult {
  card: ModelCard;
  cardPath: string;
  onnxPath: string;
  model: GbtModel;
  samples: number;
  /** Held-out samples of the last fold (for parity checks). */
  folds: FoldReport[];
  /** The training matrix (date, then ticker order) and the parameters the model was trained with. */
  dataset: Sample[];
  params: GbtParams;
}

/** Trains, validates, exports and registers a model; writes `<outDir>/model.onnx` and `<outDir>/model-card.json`. */
export async function trainModel(db: Db, options: TrainOptions): Promise<TrainResult> {
  const t = options.training;
  const features = checkFeatures(options.features ?? CLOSE_FEATURES);
  const tickers = options.tickers ?? (await barCoverage(db)).map((c) => c.ticker);
  if (tickers.length === 0) throw new QuorumError('INPUT_INVALID', 'no bars stored: run `quorum ingest prices` first', { field: 'tickers' });
  const samples = await buildDataset(db, {
    tickers,
    features,
    horizonDays: t.horizonDays,
    labelThreshold: t.labelThreshold,
    ...(options.asOf ? { asOf: options.asOf } : {}),
  });
  if (samples.length < 100) throw new QuorumError('INPUT_INVALID', `only ${samples.length} labelled samples: too few to train`, { samples: samples.length });
  const search = searchHyperparameters(samples, t);
  const params: GbtParams = search
    ? { trees: search.chosen.bestTrees, maxDepth: search.chosen.maxDepth, learningRate: search.chosen.learningRate, minSamplesLeaf: t.minSamplesLeaf }
    : { trees: t.trees, maxDepth: t.maxDepth, learningRate: t.learningRate, minSamplesLeaf: t.minSamplesLeaf };
  const wf = walkForwardWithPredictions(samples, t.folds, t.horizonDays, params);
  const folds = wf.reports;
  const calibration = fitCalibration(t.calibration ?? 'none', wf.oof.p, wf.oof.y, [...new Set(wf.oof.fold)]);
  const model = trainGbt(
    samples.map((s) => s.x),
    samples.map((s) => s.y),
    params,
  );

  const exported = exportModel({
    model,
    samples,
    features,
    tickers,
    training: t,
    params,
    folds,
    calibration,
    search,
    modelId: options.modelId,
    outDir: options.outDir,
    versionDir: options.versionDir,
    description: options.description,
    reproduce: options.reproduce,
    now: options.now,
  });
  const { card, cardPath, onnxPath } = exported;
  await db.query(
    `INSERT INTO feature_snapshots (id, feature_set, feature_set_version, as_of, tickers, feature_names, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
    [
      exported.snapshotId,
      FEATURE_SET.name,
      FEATURE_SET.version,
      `${card.trainingWindow.end}T23:59:59Z`,
      [...tickers],
      [...features],
      JSON.stringify({ kind: 'training', rows: samples.length, sha256: exported.datasetSha, start: card.trainingWindow.start, end: card.trainingWindow.end }),
    ],
  );
  await registerModel(db, card, cardPath, options.stage);
  return { card, cardPath, onnxPath, model, samples: samples.length, folds, dataset: samples, params };
}
