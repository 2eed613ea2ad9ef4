import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { IsoDateTime } from '../contracts/common.ts';
import { QuorumError } from '../contracts/errors.ts';
import { parseJson, parseWith } from '../contracts/parse.ts';
import { CardCalibration } from './calibration.ts';
import { ClassificationMetrics } from './metrics.ts';

/** One walk-forward fold: its windows (New York dates) and out-of-sample metrics. */
export const FoldReport = z
  .object({
    fold: z.number().int().min(1),
    trainStart: z.string(),
    trainEnd: z.string(),
    testStart: z.string(),
    testEnd: z.string(),
    trainRows: z.number().int().min(0),
    metrics: ClassificationMetrics,
  })
  .strict();
export type FoldReport = z.infer<typeof FoldReport>;

/** One hyper-parameter candidate of the search, scored on the validation fold. */
export const SearchCandidate = z
  .object({
    maxDepth: z.number().int().min(1),
    learningRate: z.number().positive(),
    /** Trees allowed; bestTrees: kept by early stopping (= trees without it). */
    trees: z.number().int().min(1),
    bestTrees: z.number().int().min(1),
    validationLogLoss: z.number(),
  })
  .strict();
export type SearchCandidate = z.infer<typeof SearchCandidate>;

/** The seeded hyper-parameter search with early stopping: where it validated, what it tried, what it chose. */
export const SearchReport = z
  .object({
    seed: z.number().int(),
    earlyStoppingRounds: z.number().int().min(1).nullable(),
    /** The validation fold (a walk-forward split: train before trainEnd, validate on testStart..testEnd). */
    validation: z
      .object({
        fold: z.number().int().min(1),
        trainEnd: z.string(),
        testStart: z.string(),
        testEnd: z.string(),
        trainRows: z.number().int().min(0),
        testRows: z.number().int().min(0),
      })
      .strict(),
    candidates: z.array(SearchCandidate).min(1),
    chosen: SearchCandidate,
  })
  .strict();
export type SearchReport = z.infer<typeof SearchReport>;

/**
 * The model card: everything the proposer needs to run an ONNX classifier safely, and what a reviewer
 * needs to judge it. Hand-written cards (e.g. for an XGBoost model exported by onnxmltools) use the same
 * schema; `metrics` may then be null.
 */
export const ModelCard = z
  .object({
    schemaVersion: z.literal(1),
    modelId: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case id: letters, digits, . _ -'),
    version: z.string().min(1).max(64),
    createdAt: IsoDateTime,
    description: z.string().max(2000).default(''),
    /** The ONNX file, relative to the card's folder. */
    onnxFile: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a lower-case hex sha256'),
    input: z
      .object({
        /** Name of the model's single float input, shape [N, features.length]. */
        name: z.string().min(1),
        /** Ordered feature names: column j of the input is features[j]. */
        features: z.array(z.string().min(1)).min(1).max(256),
      })
      .strict(),
    /** Output names; when omitted, `probabilities`/`output_probability` are looked up. */
    outputs: z
      .object({ probabilities: z.string().min(1) })
      .strict()
      .optional(),
    featureSet: z.object({ name: z.string().min(1), version: z.string().min(1) }).strict(),
    labels: z
      .object({
        horizonDays: z.number().int().positive(),
        /** Label = forward return over the horizon > threshold. */
        threshold: z.number(),
      })
      .strict(),
    trainingWindow: z.object({ start: z.string(), end: z.string(), tickers: z.array(z.string()) }).strict(),
    /** The feature snapshot the training set was built from (null for outside models). */
    featureSnapshotId: z.string().nullable(),
    /** Per-feature training medians: the occlusion baseline for attributions. */
    baseline: z.array(z.number()),
    /** Mean forward return of training samples labelled 1 and 0: expected return = p·up + (1-p)·down. */
    returnStats: z.object({ meanReturnPositive: z.number(), meanReturnNegative: z.number() }).strict(),
    metrics: z
      .object({ folds: z.array(FoldReport), summary: z.record(z.string(), z.number().nullable()) })
      .strict()
      .nullable(),
    featureImportance: z.record(z.string(), z.number()).default({}),
    hyperparameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
    /** Probability calibration applied by the proposer (absent or null: the raw probabilities). */
    calibration: CardCalibration.nullable().optional(),
    /** The hyper-parameter search and early stopping that chose `hyperparameters` (absent: none ran). */
    search: SearchReport.optional(),
    /** The command that rebuilds this model. */
    reproduce: z.string().default(''),
    /**
     * Rows of the training matrix (card feature order), evenly spaced over the training window: the
     * background whose node covers TreeSHAP weighs branches by. Optional (hand-written cards).
     */
    trainingSample: z
      .object({ rows: z.array(z.array(z.number())).min(1).max(5000) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.baseline.length !== c.input.features.length) {
      ctx.addIssue({ code: 'custom', path: ['baseline'], message: `has ${c.baseline.length} values for ${c.input.features.length} features` });
    }
    const bad = c.trainingSample?.rows.findIndex((r) => r.length !== c.input.features.length) ?? -1;
    if (bad >= 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['trainingSample', 'rows', bad],
        message: `has ${c.trainingSample?.rows[bad]?.length} values for ${c.input.features.length} features`,
      });
    }
    const dup = c.input.features.find((f, i) => c.input.features.indexOf(f) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['input', 'features'], message: `duplicate feature "${dup}"` });
  });
export type ModelCard = z.infer<typeof ModelCard>;

/** Reads and validates a model card; errors name the file and field. */
export function readModelCard(cardPath: string): ModelCard {
  let text: string;
  try {
    text = readFileSync(cardPath, 'utf8');
  } catch (error) {
    throw new QuorumError('NOT_FOUND', `model card not found: ${cardPath}`, { cardPath }, { cause: error });
  }
  const json = parseJson(text);
  if (!json.ok) throw new QuorumError('INPUT_INVALID', `${cardPath}: ${json.error}`, { cardPath });
  const card = parseWith(ModelCard, json.value);
  if (!card.ok) throw new QuorumError('INPUT_INVALID', `${cardPath}: ${card.error}`, { cardPath, issues: card.issues });
  return card.value;
}
