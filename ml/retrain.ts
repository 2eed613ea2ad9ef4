/**
 * A retrain: train a new version (walk-forward, search, calibration), register it in `staging` and let
 * the promotion rule decide whether it replaces production. What `quorum train` and the scheduled
 * retrain (settings retrain.cron) both run.
 */
import type { Settings } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { dailyBarTs } from '../market/index.ts';
import { CLOSE_FEATURES, FEATURE_NAMES } from './features.ts';
import { decidePromotion, promoteByHand, type PromotionActor, type PromotionDecision } from './promotion.ts';
import { setModelStage } from './registry.ts';
import { trainModel, type TrainResult, type TrainingSettings } from './train.ts';

export interface RetrainOptions {
  training: TrainingSettings;
  promotion: Settings['retrain']['promotion'];
  modelId: string;
  /** Folder the version goes into: `<outDir>/<version>/` with versionDir (the default), else outDir itself. */
  outDir: string;
  versionDir?: boolean;
  features: 'close' | 'all';
  tickers?: readonly string[];
  /** Last training date (YYYY-MM-DD, its close). */
  until?: string;
  /** staging: the rule decides (default); research: register only; production: promoted by hand, audited. */
  stage?: 'research' | 'staging' | 'production';
  actor: PromotionActor;
  reproduce?: string;
  now?: Date;
}

export interface RetrainResult {
  trained: TrainResult;
  /** Null for stage research (no decision asked for). */
  decision: PromotionDecision | null;
}

export async function retrain(db: Db, options: RetrainOptions): Promise<RetrainResult> {
  const stage = options.stage ?? 'staging';
  const trained = await trainModel(db, {
    training: options.training,
    modelId: options.modelId,
    outDir: options.outDir,
    versionDir: options.versionDir ?? true,
    features: options.features === 'all' ? FEATURE_NAMES : CLOSE_FEATURES,
    stage: stage === 'research' ? 'research' : 'staging',
    ...(options.reproduce ? { reproduce: options.reproduce } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.until ? { asOf: dailyBarTs(options.until) } : {}),
    ...(options.tickers ? { tickers: options.tickers } : {}),
  });
  const { card } = trained;
  if (stage === 'research') return { trained, decision: null };
  // A version registered before (the same data and parameters) keeps its stage: staging again unless in production.
  const current = await db.query<{ stage: string }>('SELECT stage FROM models WHERE id = $1 AND version = $2', [card.modelId, card.version]);
  if (current.rows[0]?.stage !== 'production') await setModelStage(db, card.modelId, card.version, 'staging');
  if (stage === 'production') {
    if (current.rows[0]?.stage === 'production') return { trained, decision: null };
    return { trained, decision: await promoteByHand(db, card.modelId, card.version, `${options.actor}: trained with --stage production`) };
  }
  const decision = await decidePromotion(
    db,
    { card, dataset: trained.dataset, params: trained.params },
    { rule: options.promotion, folds: options.training.folds, actor: options.actor },
  );
  return { trained, decision };
}
