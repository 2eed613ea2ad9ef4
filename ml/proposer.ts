/**
 * The proposer: a binary ONNX classifier (of whatever origin) with a model card turns point-in-time features into
 * Proposals, one onnxruntime batch per as-of time. Inputs are checked against the card before any
 * inference; a mismatch is refused with MODEL_MISMATCH naming what differs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { Proposal } from '../contracts/proposal.ts';
import { QuorumError } from '../contracts/errors.ts';
import { parseOrThrow } from '../contracts/parse.ts';
import type { Settings } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { checkTradingDate, type CheckedTradingDate, type TradingDateOptions } from '../market/index.ts';
import { applyCalibration } from './calibration.ts';
import { readModelCard, type ModelCard } from './card.ts';
import { FEATURE_NAMES, FEATURE_SET, WARMUP_BARS, computeFeatures, type FeatureSnapshot } from './features.ts';
import { NotATreeEnsemble, shapEnsembleFromOnnx, treeShap, withCovers, type ShapEnsemble } from './treeshap.ts';

const { onnx } = onnxProto;

/** Probability output names looked up when the card names none (ours, onnxmltools, skl2onnx). */
export const PROBABILITY_OUTPUT_NAMES = ['probabilities', 'output_probability', 'probability'] as const;

export interface Proposer {
  card: ModelCard;
  cardPath: string;
  session: ort.InferenceSession;
  /** The output read for P(class 1). */
  probabilityOutput: string;
  /** True when a ZipMap (seq(map)) output was replaced by its input tensor at load time. */
  zipMapStripped: boolean;
  /**
   * The ONNX TreeEnsemble with covers from the card's training sample, for exact TreeSHAP
   * attributions; null for non-tree models or cards without a training sample (occlusion then).
   */
  shap: ShapEnsemble | null;
  /** Why `shap` is null (null when it is set). */
  shapUnavailable: string | null;
  /**
   * P(class 1) of each row, rows in card feature order; one onnxruntime run. With a calibration in the
   * card, the calibrated probability (what the committee and the risk controller see).
   */
  predict(rows: readonly (readonly number[])[]): Promise<number[]>;
  /** The model's own probabilities, before the card's calibration. */
  predictRaw(rows: readonly (readonly number[])[]): Promise<number[]>;
}

function mismatch(card: ModelCard, message: string, details: Record<string, unknown> = {}): never {
  throw new QuorumError('MODEL_MISMATCH', `model ${card.modelId}@${card.version}: ${message}`, { modelId: card.modelId, ...details });
}

/**
 * onnxruntime-node cannot return non-tensor outputs, and classifiers exported with ZipMap (skl2onnx,
 * onnxmltools defaults) give probabilities as seq(map(int64, float)). ZipMap only relabels its [N, C]
 * float input, so we drop it and expose that tensor instead. Returns null when `output` is no ZipMap.
 */
export function stripZipMap(bytes: Uint8Array, output: string): { bytes: Uint8Array; output: string } | null {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) return null;
  const nodes = graph.node ?? [];
  const zip = nodes.find((n) => n.opType === 'ZipMap' && (n.output ?? []).includes(output));
  const source = zip?.input?.[0];
  if (!zip || !source) return null;
  graph.node = nodes.filter((n) => n !== zip);
  graph.output = (graph.output ?? []).map((o) =>
    o.name === output ? onnx.ValueInfoProto.create({ name: source, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }) : o,
  );
  return { bytes: onnx.ModelProto.encode(model).finish(), output: source };
}

/**
 * Loads the card at `cardPath` and the ONNX file beside it; checks the file's sha256, the feature set,
 * and the model's input name, type and shape against the card.
 */
export async function loadProposer(cardPath: string): Promise<Proposer> {
  const card = readModelCard(cardPath);
  const onnxPath = path.resolve(path.dirname(cardPath), card.onnxFile);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(onnxPath);
  } catch (error) {
    throw new QuorumError('NOT_FOUND', `ONNX file of ${card.modelId} not found: ${onnxPath}`, { onnxPath }, { cause: error });
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== card.sha256) mismatch(card, `sha256 of ${card.onnxFile} is ${sha}, the card says ${card.sha256}`, { field: 'sha256' });
  if (card.featureSet.name !== FEATURE_SET.name || card.featureSet.version !== FEATURE_SET.version) {
    mismatch(
      card,
      `trained on feature set ${card.featureSet.name}@${card.featureSet.version}, this build computes ${FEATURE_SET.name}@${FEATURE_SET.version}`,
      {
        field: 'featureSet',
      },
    );
  }
  const unknown = card.input.features.filter((f) => !(FEATURE_NAMES as readonly string[]).includes(f));
  if (unknown.length > 0) mismatch(card, `unknown feature(s) ${unknown.join(', ')} (known: ${FEATURE_NAMES.join(', ')})`, { field: 'input.features' });

  let session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  if (session.inputNames.length !== 1 || session.inputNames[0] !== card.input.name) {
    mismatch(card, `model inputs are [${session.inputNames.join(', ')}], the card expects one input "${card.input.name}"`, { field: 'input.name' });
  }
  const meta = session.inputMetadata[0];
  if (meta?.isTensor) {
    if (meta.type !== 'float32') mismatch(card, `input "${card.input.name}" is ${meta.type}, expected float32`, { field: 'input' });
    const shape = meta.shape;
    const width = shape[1];
    if (shape.length !== 2)
      mismatch(card, `input "${card.input.name}" has shape [${shape.join(', ')}], expected [N, ${card.input.features.length}]`, { field: 'input' });
    if (typeof width === 'number' && width !== card.input.features.length) {
      mismatch(card, `input "${card.input.name}" has shape [${shape.join(', ')}] but the card lists ${card.input.features.length} features`, {
        field: 'input.features',
      });
    }
  }

  const wanted = card.outputs?.probabilities;
  let probabilityOutput = wanted ?? PROBABILITY_OUTPUT_NAMES.find((n) => session.outputNames.includes(n)) ?? session.outputNames[1];
  if (!probabilityOutput || !session.outputNames.includes(probabilityOutput)) {
    mismatch(card, `no probability output (outputs: ${session.outputNames.join(', ')})`, { field: 'outputs' });
  }
  let zipMapStripped = false;
  const outMeta = session.outputMetadata[session.outputNames.indexOf(probabilityOutput)];
  if (outMeta && !outMeta.isTensor) {
    const stripped = stripZipMap(bytes, probabilityOutput);
    if (!stripped) mismatch(card, `output "${probabilityOutput}" is not a tensor and not a ZipMap`, { field: 'outputs' });
    await session.release();
    session = await ort.InferenceSession.create(stripped.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    probabilityOutput = stripped.output;
    zipMapStripped = true;
  }
  const output = probabilityOutput;
  const width = card.input.features.length;
  let shap: ShapEnsemble | null = null;
  let shapUnavailable: string | null = null;
  try {
    const ensemble = shapEnsembleFromOnnx(bytes, width);
    if (card.trainingSample) shap = withCovers(ensemble, card.trainingSample.rows);
    else shapUnavailable = 'the model card has no trainingSample to count node covers from';
  } catch (error) {
    if (!(error instanceof NotATreeEnsemble)) throw error;
    shapUnavailable = `not a single-score tree ensemble: ${error.message}`;
  }
  const inputName = card.input.name;
  const live = session;

  return {
    card,
    cardPath,
    session: live,
    probabilityOutput: output,
    zipMapStripped,
    shap,
    shapUnavailable,
    async predict(rows) {
      const raw = await predictRaw(rows);
      const map = card.calibration?.map;
      return map ? raw.map((p) => (Number.isFinite(p) ? applyCalibration(map, p) : p)) : raw;
    },
    predictRaw,
  };

  async function predictRaw(rows: readonly (readonly number[])[]): Promise<number[]> {
    if (rows.length === 0) return [];
    const data = new Float32Array(rows.length * width);
    rows.forEach((r, i) => {
      if (r.length !== width) mismatch(card, `row ${i} has ${r.length} values, the card lists ${width} features`);
      data.set(r, i * width);
    });
    const out = await live.run({ [inputName]: new ort.Tensor('float32', data, [rows.length, width]) }, [output]);
    const t = out[output];
    if (!t) mismatch(card, `output "${output}" missing from the run`);
    const values = t.data;
    if (!(values instanceof Float32Array || values instanceof Float64Array)) mismatch(card, `output "${output}" is ${t.type}, expected float`);
    const cols = t.dims.length === 2 ? Number(t.dims[1]) : 1;
    if (values.length !== rows.length * cols || cols > 2) mismatch(card, `output "${output}" has shape [${t.dims.join(', ')}] for ${rows.length} rows`);
    // [N, 2]: column 1 is the positive class; [N] or [N, 1]: the positive class's probability.
    return Array.from({ length: rows.length }, (_, i) => values[i * cols + (cols - 1)] ?? Number.NaN);
  }
}

export interface ProposeOptions {
  asOf: string;
  tickers: readonly string[];
  proposer: Proposer;
  settings: Pick<Settings, 'proposer'>;
  sessionId?: string | null;
}

export interface ProposeResult {
  featureSnapshotId: string;
  proposals: Proposal[];
  /** Inside the abstain margin: no proposal. */
  abstained: Array<{ ticker: string; probability: number }>;
  /** Not scored (no bars or a feature the model needs is undefined, e.g. OHLCV-only features). */
  skipped: Array<{ ticker: string; reason: string }>;
}

/**
 * Expected return over the horizon: p · (mean forward return of label-1 training samples)
 * + (1 - p) · (mean of label-0 samples), from the card's returnStats.
 */
export function expectedReturn(card: ModelCard, p: number): number {
  return p * card.returnStats.meanReturnPositive + (1 - p) * card.returnStats.meanReturnNegative;
}

export interface ScoreOptions {
  proposer: Proposer;
  settings: Pick<Settings, 'proposer'>;
  /** Part of each proposal's id (one proposal per model, snapshot, ticker and session). */
  sessionId?: string | null;
  /** Default: every ticker of the snapshot. */
  tickers?: readonly string[];
}

/**
 * Scores a feature snapshot in one onnxruntime batch and makes a Proposal for each ticker whose
 * probability is outside 0.5 ± abstainMargin (buy above, sell below). Attributions: for a tree
 * ensemble with a training sample in its card, exact TreeSHAP (log-odds, from the ONNX trees);
 * otherwise occlusion — the probability change when one feature is set to its training median
 * (card.baseline), those rows riding in the same batch. Stores nothing.
 */
export async function scoreSnapshot(snap: FeatureSnapshot, options: ScoreOptions): Promise<Omit<ProposeResult, 'featureSnapshotId'>> {
  const { proposer, settings } = options;
  const card = proposer.card;
  const names = card.input.features;
  const skipped: ProposeResult['skipped'] = [];
  const scored: Array<{ ticker: string; row: number[] }> = [];
  for (const ticker of [...(options.tickers ?? Object.keys(snap.rows))].sort()) {
    const r = snap.rows[ticker];
    if (!r) {
      skipped.push({ ticker, reason: `no bars at or before ${snap.asOf}` });
      continue;
    }
    const missing = names.filter((f) => r.values[f] === null || r.values[f] === undefined);
    if (missing.length > 0) {
      skipped.push({ ticker, reason: `features undefined at ${r.barTs}: ${missing.join(', ')}` });
      continue;
    }
    scored.push({ ticker, row: names.map((f) => r.values[f] ?? 0) });
  }

  const F = names.length;
  const batch: number[][] = scored.map((s) => s.row);
  const shap = proposer.shap;
  for (const s of shap ? [] : scored) {
    for (let j = 0; j < F; j++) {
      const occluded = [...s.row];
      occluded[j] = card.baseline[j] ?? 0;
      batch.push(occluded);
    }
  }
  const probs = await proposer.predict(batch);
  const margin = settings.proposer.abstainMargin;
  const proposals: Proposal[] = [];
  const abstained: ProposeResult['abstained'] = [];
  scored.forEach((s, i) => {
    const p = probs[i] ?? Number.NaN;
    if (!Number.isFinite(p) || p < 0 || p > 1) throw new QuorumError('MODEL_MISMATCH', `model returned probability ${p} for ${s.ticker}`, { ticker: s.ticker });
    if (Math.abs(p - 0.5) <= margin) {
      abstained.push({ ticker: s.ticker, probability: p });
      return;
    }
    const exact = shap ? treeShap(shap, s.row) : null;
    const attributions = names
      .map((feature, j) => ({ feature, value: s.row[j] ?? 0, contribution: exact ? (exact.phi[j] ?? 0) : p - (probs[scored.length + i * F + j] ?? p) }))
      .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || a.feature.localeCompare(b.feature))
      .slice(0, settings.proposer.topAttributions);
    const idSource = [card.modelId, card.version, snap.id, s.ticker, options.sessionId ?? ''].join('|');
    proposals.push(
      parseOrThrow(
        Proposal,
        {
          id: `prop_${createHash('sha256').update(idSource).digest('hex').slice(0, 20)}`,
          ticker: s.ticker,
          side: p > 0.5 ? 'buy' : 'sell',
          probability: p,
          expectedReturn: expectedReturn(card, p),
          horizonDays: card.labels.horizonDays,
          modelId: card.modelId,
          modelVersion: card.version,
          featureSnapshotId: snap.id,
          attributions,
          attributionMethod: exact ? 'treeshap' : 'occlusion',
          ...(exact ? { attributionBase: exact.expected } : {}),
          asOf: snap.asOf,
        },
        `proposal for ${s.ticker}`,
        'INTERNAL',
      ),
    );
  });
  return { proposals, abstained, skipped };
}

/** Stores proposals (idempotent by id); their feature snapshot must be stored first. */
export async function storeProposals(db: Db, proposals: readonly Proposal[], sessionId: string | null = null): Promise<void> {
  await db.transaction(async (tx) => {
    for (const pr of proposals) {
      await tx.query(
        `INSERT INTO proposals (id, session_id, ticker, side, probability, expected_return, horizon_days, model_id, model_version,
           feature_snapshot_id, as_of, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`,
        [
          pr.id,
          sessionId,
          pr.ticker,
          pr.side,
          pr.probability,
          pr.expectedReturn,
          pr.horizonDays,
          pr.modelId,
          pr.modelVersion,
          pr.featureSnapshotId,
          pr.asOf,
          JSON.stringify(pr),
        ],
      );
    }
  });
}

/**
 * Computes (and stores) the feature snapshot at asOf, scores it (`scoreSnapshot`) and stores the
 * proposals.
 */
export async function propose(db: Db, options: ProposeOptions): Promise<ProposeResult> {
  const snap = await computeFeatures(db, { asOf: options.asOf, tickers: options.tickers });
  const scored = await scoreSnapshot(snap, { proposer: options.proposer, settings: options.settings, sessionId: options.sessionId, tickers: options.tickers });
  await storeProposals(db, scored.proposals, options.sessionId ?? null);
  return { featureSnapshotId: snap.id, ...scored };
}

/** Stored proposals at `asOf` (exact instant), from their validated payloads. */
export async function proposalsAt(db: Db, asOf: string): Promise<Proposal[]> {
  const res = await db.query(`SELECT payload FROM proposals WHERE as_of = $1 ORDER BY ticker, id`, [new Date(asOf).toISOString()]);
  return res.rows.map((r) => parseOrThrow(Proposal, r.payload, 'stored proposal', 'INTERNAL'));
}

/**
 * `market/checkTradingDate` with the features' warm-up (WARMUP_BARS): the check of a date at which the
 * model is to propose (`quorum propose`, `quorum critique`, POST /v1/critiques, sessions).
 */
export function checkProposalDate(db: Db, asOf: string, options: Omit<TradingDateOptions, 'warmupBars' | 'warmupReason'>): Promise<CheckedTradingDate> {
  return checkTradingDate(db, asOf, { ...options, warmupBars: WARMUP_BARS, warmupReason: 'the feature warm-up' });
}

/**
 * The model's proposal for one ticker at asOf (proposed and stored now), or NOT_FOUND naming why there
 * is none (the model abstains, or the ticker could not be scored). Used where a caller names a ticker
 * and a time rather than a whole proposal (`quorum critique`, POST /v1/critiques). A date that is no
 * trading day or lies outside the ticker's stored bars is refused first (INPUT_INVALID, field `asOf`).
 */
export async function proposeOne(db: Db, options: Omit<ProposeOptions, 'tickers'> & { ticker: string; asOfLabel?: string }): Promise<Proposal> {
  const { ticker, asOf, asOfLabel, ...rest } = options;
  await checkProposalDate(db, asOf, { purpose: 'critique', field: 'asOf', label: asOfLabel ?? 'asOf', ticker });
  const res = await propose(db, { ...rest, asOf, tickers: [ticker] });
  const p = res.proposals.find((x) => x.ticker === ticker);
  if (p) return p;
  const abstained = res.abstained.find((a) => a.ticker === ticker);
  const why = abstained
    ? `the model abstains on ${ticker} at ${asOf} (p=${abstained.probability.toFixed(3)} within ${options.settings.proposer.abstainMargin} of 0.5)`
    : `the model could not score ${ticker} at ${asOf}: ${res.skipped.find((s) => s.ticker === ticker)?.reason ?? 'no proposal'}`;
  throw new QuorumError('NOT_FOUND', `no proposal to critique: ${why}`, { field: 'ticker' });
}

/** A trade idea from outside the model: which side, and optionally its own probability. */
export interface TradeIdea {
  side: 'buy' | 'sell';
  /** The idea's P(forward return clears the threshold); default the model's own at asOf. */
  probability?: number;
}

/**
 * A caller's own idea on one ticker at asOf as a Proposal the committee can judge (`quorum critique
 * --side`): the stored feature snapshot at asOf and the model's occlusion attributions, with the
 * caller's side (and probability, if given) in place of the model's, so an idea is judged even where
 * the model abstains. modelId `user` with the scoring model as its version says in the audit chain
 * whose idea it was. Stores the snapshot and the proposal.
 */
export async function proposeIdea(
  db: Db,
  options: Omit<ProposeOptions, 'tickers' | 'sessionId'> & { ticker: string; idea: TradeIdea; asOfLabel?: string },
): Promise<Proposal> {
  const { ticker, asOf, asOfLabel, idea, proposer, settings } = options;
  await checkProposalDate(db, asOf, { purpose: 'critique', field: 'asOf', label: asOfLabel ?? 'asOf', ticker });
  const snap = await computeFeatures(db, { asOf, tickers: [ticker] });
  // No abstain margin: the model's attributions at asOf, whichever side it leans to.
  const scored = await scoreSnapshot(snap, { proposer, settings: { proposer: { ...settings.proposer, abstainMargin: -1 } }, tickers: [ticker] });
  const model = scored.proposals[0];
  if (!model)
    throw new QuorumError(
      'NOT_FOUND',
      `no proposal to critique: the model could not score ${ticker} at ${asOf}: ${scored.skipped[0]?.reason ?? 'no features'}`,
      { field: 'ticker' },
    );
  const probability = idea.probability ?? model.probability;
  const card = proposer.card;
  const idSource = ['user', card.modelId, card.version, snap.id, ticker, idea.side, String(probability)].join('|');
  const proposal = parseOrThrow(
    Proposal,
    {
      ...model,
      id: `prop_${createHash('sha256').update(idSource).digest('hex').slice(0, 20)}`,
      side: idea.side,
      probability,
      expectedReturn: expectedReturn(card, probability),
      modelId: 'user',
      modelVersion: `${card.modelId}@${card.version}`,
    },
    `idea for ${ticker}`,
  );
  await storeProposals(db, [proposal]);
  return proposal;
}
