/**
 * The model's health as a gate in live operation: each session measures the proposer's drift as of
 * its time (ml/drift.ts) and stores it (model_health); an unhealthy model abstains, and stays so
 * until it is retrained (another model id or version) or a user overrides it (model_overrides).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Settings } from '../config/index.ts';
import { QuorumError } from '../contracts/errors.ts';
import { appendAudit, JsonColumn, queryRow, queryRows, TimestampColumn, NullableTimestampColumn, type Db, type Queryable } from '../db/index.ts';
import { driftReport, recentFeatureRows, type DriftReport } from './drift.ts';
import type { Proposer } from './proposer.ts';

export const ModelGate = z.enum(['proceed', 'abstain', 'overridden']);
export type ModelGate = z.infer<typeof ModelGate>;

export const ModelOverrideView = z
  .object({
    id: z.string(),
    modelId: z.string(),
    modelVersion: z.string(),
    reason: z.string(),
    actor: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
    revokedBy: z.string().nullable(),
  })
  .strict();
export type ModelOverrideView = z.infer<typeof ModelOverrideView>;

/** A session's reading of the model's health and what it did with it (model_health). */
export const ModelHealthView = z
  .object({
    sessionId: z.string(),
    modelId: z.string(),
    modelVersion: z.string(),
    asOf: z.string(),
    healthScore: z.number(),
    healthy: z.boolean(),
    gate: ModelGate,
    reason: z.string(),
    report: JsonColumn,
    createdAt: z.string(),
  })
  .strict();
export type ModelHealthView = z.infer<typeof ModelHealthView>;

const OverrideRow = z.object({
  id: z.string(),
  model_id: z.string(),
  model_version: z.string(),
  reason: z.string(),
  actor: z.string(),
  created_at: TimestampColumn,
  revoked_at: NullableTimestampColumn,
  revoked_by: z.string().nullable(),
});
const toOverride = (r: z.infer<typeof OverrideRow>): ModelOverrideView => ({
  id: r.id,
  modelId: r.model_id,
  modelVersion: r.model_version,
  reason: r.reason,
  actor: r.actor,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  revokedBy: r.revoked_by,
});
const OVERRIDE_COLUMNS = 'id, model_id, model_version, reason, actor, created_at, revoked_at, revoked_by';

/** Every override, newest first. */
export async function listModelOverrides(q: Queryable): Promise<ModelOverrideView[]> {
  return (await queryRows(q, OverrideRow, `SELECT ${OVERRIDE_COLUMNS} FROM model_overrides ORDER BY created_at DESC, id DESC`)).map(toOverride);
}

/** The override that holds for a model version, or null. */
export async function activeOverride(q: Queryable, modelId: string, modelVersion: string): Promise<ModelOverrideView | null> {
  const row = await queryRow(
    q,
    OverrideRow,
    `SELECT ${OVERRIDE_COLUMNS} FROM model_overrides WHERE model_id = $1 AND model_version = $2 AND revoked_at IS NULL`,
    [modelId, modelVersion],
  );
  return row ? toOverride(row) : null;
}

export interface OverrideInput {
  modelId: string;
  modelVersion: string;
  reason: string;
  actor: string;
}

function required(field: 'modelId' | 'modelVersion' | 'reason', value: string): string {
  const v = value.trim();
  if (!v) throw new QuorumError('INPUT_INVALID', `${field}: required`, { field });
  return v;
}

/**
 * Lets one model version trade although its health is below the threshold (audited: who, when,
 * why). A version already overridden keeps its override; another version (a retrained model)
 * needs its own.
 */
export async function overrideModel(db: Db, input: OverrideInput): Promise<ModelOverrideView> {
  const modelId = required('modelId', input.modelId);
  const modelVersion = required('modelVersion', input.modelVersion);
  const reason = required('reason', input.reason);
  return db.transaction(async (tx) => {
    const existing = await activeOverride(tx, modelId, modelVersion);
    if (existing) return existing;
    const id = `mo_${randomBytes(8).toString('hex')}`;
    await tx.query('INSERT INTO model_overrides (id, model_id, model_version, reason, actor) VALUES ($1, $2, $3, $4, $5)', [
      id,
      modelId,
      modelVersion,
      reason,
      input.actor,
    ]);
    await appendAudit(tx, 'model.override', 'model', `${modelId}@${modelVersion}`, { override: id, reason, actor: input.actor });
    const row = await activeOverride(tx, modelId, modelVersion);
    if (!row) throw new QuorumError('INTERNAL', `override ${id} was not stored`);
    return row;
  });
}

/** Ends the override of a model version (audited); the next session gates it by its health again. */
export async function revokeModelOverride(db: Db, input: OverrideInput): Promise<ModelOverrideView> {
  const modelId = required('modelId', input.modelId);
  const modelVersion = required('modelVersion', input.modelVersion);
  const reason = required('reason', input.reason);
  return db.transaction(async (tx) => {
    const existing = await activeOverride(tx, modelId, modelVersion);
    if (!existing) throw new QuorumError('NOT_FOUND', `modelId: ${modelId}@${modelVersion} has no override to revoke`, { field: 'modelId' });
    await tx.query('UPDATE model_overrides SET revoked_at = now(), revoked_by = $2 WHERE id = $1', [existing.id, input.actor]);
    await appendAudit(tx, 'model.override_revoked', 'model', `${modelId}@${modelVersion}`, { override: existing.id, reason, actor: input.actor });
    return toOverride(
      (await queryRow(tx, OverrideRow, `SELECT ${OVERRIDE_COLUMNS} FROM model_overrides WHERE id = $1`, [existing.id])) ??
        (() => {
          throw new QuorumError('INTERNAL', `override ${existing.id} vanished`);
        })(),
    );
  });
}

const HealthRow = z.object({
  session_id: z.string(),
  model_id: z.string(),
  model_version: z.string(),
  as_of: TimestampColumn,
  health_score: z.number(),
  healthy: z.boolean(),
  gate: ModelGate,
  reason: z.string(),
  report: JsonColumn,
  created_at: TimestampColumn,
});
const toHealth = (r: z.infer<typeof HealthRow>): ModelHealthView => ({
  sessionId: r.session_id,
  modelId: r.model_id,
  modelVersion: r.model_version,
  asOf: r.as_of,
  healthScore: r.health_score,
  healthy: r.healthy,
  gate: r.gate,
  reason: r.reason,
  report: r.report,
  createdAt: r.created_at,
});
const HEALTH_COLUMNS = 'session_id, model_id, model_version, as_of, health_score, healthy, gate, reason, report, created_at';

/** A session's model health, or null (a session before the gate, or with settings.drift.gate off). */
export async function readSessionModelHealth(q: Queryable, sessionId: string): Promise<ModelHealthView | null> {
  const row = await queryRow(q, HealthRow, `SELECT ${HEALTH_COLUMNS} FROM model_health WHERE session_id = $1`, [sessionId]);
  return row ? toHealth(row) : null;
}

/** The health readings of the sessions, newest first. */
export async function listModelHealth(q: Queryable, limit = 20): Promise<ModelHealthView[]> {
  return (await queryRows(q, HealthRow, `SELECT ${HEALTH_COLUMNS} FROM model_health ORDER BY created_at DESC LIMIT $1`, [limit])).map(toHealth);
}

export interface GateDecision {
  gate: ModelGate;
  reason: string;
  report: DriftReport;
  override: ModelOverrideView | null;
}

/**
 * The gate's rule: a healthy model proceeds unless an earlier session of the same version found it
 * unhealthy (it stays abstaining until retrained or overridden); an unhealthy one abstains unless an
 * override holds for its version.
 */
export function gateFor(report: DriftReport, earlierAbstain: ModelHealthView | null, override: ModelOverrideView | null, threshold: number): GateDecision {
  const model = `${report.modelId}@${report.modelVersion}`;
  const score = `health score ${report.healthScore.toFixed(3)}`;
  if (override && (!report.healthy || earlierAbstain))
    return {
      gate: 'overridden',
      reason: `model ${model} ${report.healthy ? 'was unhealthy before' : `is unhealthy (${score} < ${threshold})`}; overridden by ${override.actor} at ${override.createdAt}: ${override.reason}`,
      report,
      override,
    };
  if (!report.healthy)
    return {
      gate: 'abstain',
      reason: `model ${model} abstains: ${score} < ${threshold}${report.reasons.length ? ` (${report.reasons.join('; ')})` : ''}; retrain it or \`quorum model override --reason …\``,
      report,
      override,
    };
  if (earlierAbstain)
    return {
      gate: 'abstain',
      reason: `model ${model} abstains: unhealthy since session ${earlierAbstain.sessionId} (${earlierAbstain.asOf}); ${score} now, but it stays so until retrained or \`quorum model override --reason …\``,
      report,
      override,
    };
  return { gate: 'proceed', reason: `model ${model} healthy: ${score} >= ${threshold}`, report, override };
}

export interface MeasureOptions {
  sessionId: string;
  asOf: string;
  tickers: readonly string[];
  proposer: Proposer;
  settings: Settings;
}

/**
 * Measures the proposer's drift as of the session, decides the gate and stores both (model_health,
 * and the audit event `model.abstained` when it abstains). Null when settings.drift.gate is off or
 * the card carries no training sample to measure against.
 */
export async function measureModelHealth(db: Db, options: MeasureOptions): Promise<GateDecision | null> {
  const { settings, proposer } = options;
  if (settings.drift.gate === 'off' || !proposer.card.trainingSample) return null;
  const recent = await recentFeatureRows(db, {
    asOf: options.asOf,
    tickers: options.tickers,
    features: proposer.card.input.features,
    windowDays: settings.drift.windowDays,
  });
  if (recent.length === 0) return null;
  const report = await driftReport({ proposer, recent, asOf: options.asOf, drift: settings.drift, abstainMargin: settings.proposer.abstainMargin });
  const { modelId, modelVersion } = report;
  const [earlier, override] = await Promise.all([
    queryRow(
      db,
      HealthRow,
      `SELECT ${HEALTH_COLUMNS} FROM model_health WHERE model_id = $1 AND model_version = $2 AND gate IN ('abstain', 'overridden') AND session_id <> $3 ORDER BY created_at LIMIT 1`,
      [modelId, modelVersion, options.sessionId],
    ),
    activeOverride(db, modelId, modelVersion),
  ]);
  let decision = gateFor(report, earlier ? toHealth(earlier) : null, override, settings.drift.minHealthScore);
  // record: measured and stored, the session trades on.
  if (settings.drift.gate === 'record' && decision.gate === 'abstain')
    decision = { ...decision, gate: 'proceed', reason: `${decision.reason} (drift.gate: record)` };
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO model_health (session_id, model_id, model_version, as_of, health_score, healthy, gate, reason, report)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (session_id) DO UPDATE SET health_score = EXCLUDED.health_score, healthy = EXCLUDED.healthy, gate = EXCLUDED.gate,
         reason = EXCLUDED.reason, report = EXCLUDED.report, created_at = now()`,
      [options.sessionId, modelId, modelVersion, options.asOf, report.healthScore, report.healthy, decision.gate, decision.reason, JSON.stringify(report)],
    );
    if (decision.gate === 'abstain')
      await appendAudit(tx, 'model.abstained', 'model', `${modelId}@${modelVersion}`, {
        session: options.sessionId,
        healthScore: report.healthScore,
        threshold: settings.drift.minHealthScore,
        reason: decision.reason,
      });
  });
  return decision;
}
