import { z } from 'zod';
import { Side } from '../contracts/index.ts';
import { JsonColumn, TimestampColumn, queryRow, queryRows, type Queryable } from '../db/index.ts';

/**
 * Read models of ml/'s tables (proposals, models, feature snapshots): the stored rows with a zod
 * schema each, which the API also publishes. Columns keep their snake_case names.
 */

export const ProposalSummary = z.object({
  id: z.string(),
  ticker: z.string(),
  side: Side,
  probability: z.number(),
  expected_return: z.number(),
  horizon_days: z.number().int(),
  model_id: z.string(),
  model_version: z.string(),
  as_of: TimestampColumn,
});
export type ProposalSummary = z.infer<typeof ProposalSummary>;

export const ProposalRow = ProposalSummary.extend({
  session_id: z.string().nullable(),
  feature_snapshot_id: z.string(),
  /** The Proposal contract as it was stored. */
  payload: JsonColumn,
  created_at: TimestampColumn,
});
export type ProposalRow = z.infer<typeof ProposalRow>;

export const ModelRow = z.object({
  id: z.string(),
  version: z.string(),
  stage: z.enum(['research', 'staging', 'production', 'archived']),
  path: z.string(),
  sha256: z.string(),
  card: JsonColumn,
  created_at: TimestampColumn,
});
export type ModelRow = z.infer<typeof ModelRow>;

export const FeatureSnapshotSummary = z.object({
  id: z.string(),
  feature_set: z.string(),
  feature_set_version: z.string(),
  as_of: TimestampColumn,
  feature_names: z.array(z.string()),
});
export type FeatureSnapshotSummary = z.infer<typeof FeatureSnapshotSummary>;

const PROPOSAL_SUMMARY = 'id, ticker, side, probability, expected_return, horizon_days, model_id, model_version, as_of';

export function readProposal(q: Queryable, id: string): Promise<ProposalRow | null> {
  return queryRow(q, ProposalRow, `SELECT ${PROPOSAL_SUMMARY}, session_id, feature_snapshot_id, payload, created_at FROM proposals WHERE id = $1`, [id]);
}

/** A session's proposals, most probable first. */
export function readSessionProposals(q: Queryable, sessionId: string): Promise<ProposalSummary[]> {
  return queryRows(q, ProposalSummary, `SELECT ${PROPOSAL_SUMMARY} FROM proposals WHERE session_id = $1 ORDER BY probability DESC`, [sessionId]);
}

export function readModel(q: Queryable, id: string, version: string): Promise<ModelRow | null> {
  return queryRow(q, ModelRow, 'SELECT id, version, stage, path, sha256, card, created_at FROM models WHERE id = $1 AND version = $2', [id, version]);
}

export function readFeatureSnapshot(q: Queryable, id: string): Promise<FeatureSnapshotSummary | null> {
  return queryRow(q, FeatureSnapshotSummary, 'SELECT id, feature_set, feature_set_version, as_of, feature_names FROM feature_snapshots WHERE id = $1', [id]);
}
