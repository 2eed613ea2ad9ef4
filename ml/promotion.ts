/**
 * Promotion: a newly trained model enters `staging` and replaces `production` only when it is not worse
 * on the latest walk-forward fold by the rule in settings (retrain.promotion). Every decision, by the
 * rule or by hand, is written to model_promotions and the audit log in one transaction.
 */
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import type { Settings } from '../config/index.ts';
import { appendAudit, type Db, type Queryable } from '../db/index.ts';
import { ModelCard, readModelCard } from './card.ts';
import { predictProba, trainGbt, type GbtParams } from './gbt.ts';
import { classificationMetrics, type ClassificationMetrics } from './metrics.ts';
import { loadProposer } from './proposer.ts';
import { foldSplits, splitSamples, type Sample } from './train.ts';

export type PromotionRule = Settings['retrain']['promotion'];
export type PromotionMetric = PromotionRule['metric'];
export type PromotionActor = 'train' | 'schedule' | 'manual' | 'backtest';

/** Lower is better for the losses, higher for AUC and accuracy. */
export const LOWER_IS_BETTER: Record<PromotionMetric, boolean> = { logLoss: true, brier: true, auc: false, accuracy: false };

/** The rule's metric of a metrics record (a missing AUC, one class only, counts as 0.5). */
export function metricOf(m: ClassificationMetrics, metric: PromotionMetric): number {
  if (metric === 'auc') return m.auc ?? 0.5;
  if (metric === 'brier') return m.brier ?? Number.NaN;
  return m[metric];
}

/**
 * How much worse the candidate is than production by the metric (negative: better); the candidate
 * passes when this is at most rule.maxWorsening.
 */
export function worsening(rule: PromotionRule, candidate: number, production: number): number {
  return LOWER_IS_BETTER[rule.metric] ? candidate - production : production - candidate;
}

export function ruleAllows(rule: PromotionRule, candidate: number, production: number): boolean {
  return Number.isFinite(candidate) && Number.isFinite(production) && worsening(rule, candidate, production) <= rule.maxWorsening + 1e-12;
}

export const PromotionDecision = z.object({
  modelId: z.string(),
  candidateVersion: z.string(),
  productionVersion: z.string().nullable(),
  decision: z.enum(['promoted', 'refused']),
  actor: z.string(),
  who: z.string(),
  reason: z.string(),
  rule: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
  at: z.string().optional(),
});
export type PromotionDecision = z.infer<typeof PromotionDecision>;

/** user@host of this process. */
export function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers).
  }
  return `${user}@${hostname()}`;
}

/** Writes a decision (model_promotions + audit log) and, when promoted, moves the version to production. */
export async function recordDecision(db: Db, d: PromotionDecision): Promise<PromotionDecision> {
  await db.transaction(async (tx) => {
    if (d.decision === 'promoted') {
      await tx.query(`UPDATE models SET stage = 'archived' WHERE id = $1 AND stage = 'production' AND version <> $2`, [d.modelId, d.candidateVersion]);
      await tx.query(`UPDATE models SET stage = 'production', promoted_at = now() WHERE id = $1 AND version = $2`, [d.modelId, d.candidateVersion]);
    }
    await tx.query(
      `INSERT INTO model_promotions (model_id, candidate_version, production_version, decision, actor, who, reason, rule, metrics)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [d.modelId, d.candidateVersion, d.productionVersion, d.decision, d.actor, d.who, d.reason, JSON.stringify(d.rule), JSON.stringify(d.metrics)],
    );
    await appendAudit(tx, d.decision === 'promoted' ? 'model.promoted' : 'model.promotion_refused', 'model', `${d.modelId}@${d.candidateVersion}`, {
      productionVersion: d.productionVersion,
      actor: d.actor,
      who: d.who,
      reason: d.reason,
      rule: d.rule,
      metrics: d.metrics,
    });
  });
  return d;
}

/** The version a candidate is compared with: its card and where its files are. */
export interface ProductionModel {
  version: string;
  path: string;
  card: ModelCard;
}

async function production(q: Queryable, modelId: string): Promise<ProductionModel | null> {
  const res = await q.query<{ version: string; path: string; card: unknown }>(`SELECT version, path, card FROM models WHERE id = $1 AND stage = 'production'`, [
    modelId,
  ]);
  const row = res.rows[0];
  if (!row) return null;
  return { version: row.version, path: row.path, card: ModelCard.parse(row.card) };
}

/** Our trainer's hyper-parameters in a card (an outside model's card has other keys, or none). */
function gbtRecipe(card: ModelCard): GbtParams | null {
  const h = card.hyperparameters;
  const n = (k: string): number | null => (typeof h[k] === 'number' ? (h[k] as number) : null);
  const trees = n('trees');
  const maxDepth = n('maxDepth');
  const learningRate = n('learningRate');
  const minSamplesLeaf = n('minSamplesLeaf');
  if (trees === null || maxDepth === null || learningRate === null || minSamplesLeaf === null || n('maxBins') === null) return null;
  return { trees, maxDepth, learningRate, minSamplesLeaf, lambda: n('lambda') ?? 1, maxBins: n('maxBins') ?? 64 };
}

export interface CandidateModel {
  card: ModelCard;
  /** Its training matrix (what train used, date then ticker order) and parameters. */
  dataset: readonly Sample[];
  params: GbtParams;
}

export interface DecideOptions {
  rule: PromotionRule;
  folds: number;
  actor: PromotionActor;
  who?: string;
}

/** What the rule says about a candidate, before it is recorded anywhere. */
export interface PromotionJudgement {
  productionVersion: string | null;
  decision: 'promoted' | 'refused';
  reason: string;
  metrics: Record<string, unknown>;
}

/**
 * Compares a registered staging candidate with the production version of its model id on the
 * candidate's latest walk-forward fold and records the decision (judgePromotion, then recordDecision).
 */
export async function decidePromotion(db: Db, candidate: CandidateModel, options: DecideOptions): Promise<PromotionDecision> {
  const { card } = candidate;
  const judged = await judgePromotion(candidate, await production(db, card.modelId), options.rule, options.folds);
  return recordDecision(db, {
    modelId: card.modelId,
    candidateVersion: card.version,
    actor: options.actor,
    who: options.who ?? whoAmI(),
    rule: { ...options.rule },
    ...judged,
  });
}

/**
 * The rule on a candidate and the production model (null: none, so the candidate is promoted), on
 * the candidate's latest walk-forward fold; nothing is stored. Production is judged on the same
 * fold: when it is one of our GBTs, its recipe (the card's hyper-parameters) is trained on the
 * fold's training window, as the candidate was, and both are scored on the fold's test window (raw
 * probabilities: the candidate's calibration was fitted on these folds). An outside model (no
 * recipe) is scored as it is, on the same test rows; its own training window may cover them, which
 * favours production. No production version: the candidate is promoted.
 */
export async function judgePromotion(candidate: CandidateModel, prod: ProductionModel | null, rule: PromotionRule, folds: number): Promise<PromotionJudgement> {
  const { card } = candidate;
  if (!prod) return { productionVersion: null, decision: 'promoted', reason: `no production version of ${card.modelId}`, metrics: {} };
  if (prod.version === card.version) {
    return { productionVersion: prod.version, decision: 'refused', reason: 'this version is already in production', metrics: {} };
  }
  const refuse = (reason: string, metrics: Record<string, unknown> = {}): PromotionJudgement => ({
    productionVersion: prod.version,
    decision: 'refused',
    reason,
    metrics,
  });
  const pf = prod.card.input.features.join(',');
  const cf = card.input.features.join(',');
  if (pf !== cf) return refuse(`not comparable by the rule: production reads features [${pf}], the candidate [${cf}] (promote by hand: quorum model promote)`);
  if (prod.card.labels.horizonDays !== card.labels.horizonDays || prod.card.labels.threshold !== card.labels.threshold) {
    return refuse(`not comparable by the rule: production's labels differ (${JSON.stringify(prod.card.labels)} vs ${JSON.stringify(card.labels)})`);
  }
  const split = foldSplits(candidate.dataset, folds, card.labels.horizonDays).at(-1);
  if (!split) throw new QuorumError('INTERNAL', 'no walk-forward fold to compare on');
  const { train, test } = splitSamples(candidate.dataset, split);
  const y = test.map((s) => s.y);
  const X = test.map((s) => s.x);
  const fit = (params: GbtParams): number[] =>
    predictProba(
      trainGbt(
        train.map((s) => s.x),
        train.map((s) => s.y),
        params,
      ),
      X,
    );
  // The candidate's own report of this fold (the same training, already run), else trained here.
  const last = card.metrics?.folds.at(-1);
  const candidateMetrics =
    last && last.testStart === split.testStart && last.testEnd === split.testEnd ? last.metrics : classificationMetrics(fit(candidate.params), y);
  const recipe = gbtRecipe(prod.card);
  let productionMetrics: ClassificationMetrics;
  let productionScoredAs: 'recipe' | 'artifact';
  if (recipe) {
    productionMetrics = classificationMetrics(fit(recipe), y);
    productionScoredAs = 'recipe';
  } else {
    const proposer = await loadProposer(prod.path);
    try {
      productionMetrics = classificationMetrics(await proposer.predictRaw(X), y);
    } finally {
      await proposer.session.release();
    }
    productionScoredAs = 'artifact';
  }
  const c = metricOf(candidateMetrics, rule.metric);
  const p = metricOf(productionMetrics, rule.metric);
  const strip = (m: ClassificationMetrics): Omit<ClassificationMetrics, 'calibration'> => {
    const { calibration: _bins, ...rest } = m;
    return rest;
  };
  const metrics = {
    fold: split,
    testRows: test.length,
    productionScoredAs,
    candidate: strip(candidateMetrics),
    production: strip(productionMetrics),
    worsening: worsening(rule, c, p),
  };
  const how = `${rule.metric} ${c.toFixed(5)} vs production ${p.toFixed(5)} on ${split.testStart}..${split.testEnd}`;
  if (ruleAllows(rule, c, p)) {
    return { productionVersion: prod.version, decision: 'promoted', reason: `not worse by the rule (${how}; max worsening ${rule.maxWorsening})`, metrics };
  }
  return refuse(`worse by the rule (${how}; max worsening ${rule.maxWorsening})`, metrics);
}

/** A promotion by hand (`quorum model promote`): no rule, audited with the reason given. */
export async function promoteByHand(db: Db, modelId: string, version: string, reason: string, who = whoAmI()): Promise<PromotionDecision> {
  const found = await db.query<{ stage: string }>('SELECT stage FROM models WHERE id = $1 AND version = $2', [modelId, version]);
  const row = found.rows[0];
  if (!row) throw new QuorumError('NOT_FOUND', `model ${modelId}@${version} is not registered (see quorum model list)`, { field: 'model' });
  if (row.stage === 'production') throw new QuorumError('CONFLICT', `model ${modelId}@${version} is already in production`, { field: 'model' });
  const prod = await production(db, modelId);
  return recordDecision(db, {
    modelId,
    candidateVersion: version,
    productionVersion: prod?.version ?? null,
    decision: 'promoted',
    actor: 'manual',
    who,
    reason,
    rule: {},
    metrics: {},
  });
}

const DecisionRow = z.object({
  model_id: z.string(),
  candidate_version: z.string(),
  production_version: z.string().nullable(),
  decision: z.enum(['promoted', 'refused']),
  actor: z.string(),
  who: z.string(),
  reason: z.string(),
  rule: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
  at: z.coerce.date(),
});

/** Recorded decisions, newest first (optionally of one model id). */
export async function listPromotions(q: Queryable, options: { modelId?: string; limit?: number } = {}): Promise<PromotionDecision[]> {
  const res = await q.query(
    `SELECT model_id, candidate_version, production_version, decision, actor, who, reason, rule, metrics, at FROM model_promotions
     WHERE $1::text IS NULL OR model_id = $1 ORDER BY id DESC LIMIT $2`,
    [options.modelId ?? null, options.limit ?? 100],
  );
  return res.rows.map((r) => {
    const p = DecisionRow.parse(r);
    return {
      modelId: p.model_id,
      candidateVersion: p.candidate_version,
      productionVersion: p.production_version,
      decision: p.decision,
      actor: p.actor,
      who: p.who,
      reason: p.reason,
      rule: p.rule,
      metrics: p.metrics,
      at: p.at.toISOString(),
    };
  });
}

/** The card path of the production version of `modelId`, or null when there is none. */
export async function productionCardPath(q: Queryable, modelId: string): Promise<string | null> {
  const res = await q.query<{ path: string }>(`SELECT path FROM models WHERE id = $1 AND stage = 'production'`, [modelId]);
  return res.rows[0]?.path ?? null;
}

/**
 * The card the proposer runs: the production version of the configured card's model id when the
 * registry has one (and its files are there), else the configured card (models.yaml proposer.cardPath).
 */
export async function proposerCardPath(q: Queryable, configuredCardPath: string): Promise<string> {
  let modelId: string;
  try {
    modelId = readModelCard(configuredCardPath).modelId;
  } catch {
    return configuredCardPath;
  }
  const prod = await productionCardPath(q, modelId);
  return prod && existsSync(prod) ? prod : configuredCardPath;
}
