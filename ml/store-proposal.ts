import type { Proposal } from '../contracts/index.ts';
import type { Queryable } from '../db/index.ts';

/** Where a proposal from outside the proposer came from; stored as its feature-snapshot row. */
export interface ProposalOrigin {
  featureSet: string;
  version: string;
  payload?: Record<string, unknown>;
}

/**
 * Stores a proposal made outside the proposer (an API caller's model, an eval scenario, a test) with a
 * feature-snapshot row naming its origin, so the audit chain says where it came from. Idempotent by id.
 * Run it inside a transaction when the two rows must land together.
 */
export async function storeOutsideProposal(q: Queryable, p: Proposal, origin: ProposalOrigin): Promise<void> {
  await q.query(
    `INSERT INTO feature_snapshots (id, feature_set, feature_set_version, as_of, tickers, feature_names, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO NOTHING`,
    [p.featureSnapshotId, origin.featureSet, origin.version, p.asOf, [p.ticker], p.attributions.map((a) => a.feature), JSON.stringify(origin.payload ?? {})],
  );
  await q.query(
    `INSERT INTO proposals (id, ticker, side, probability, expected_return, horizon_days, model_id, model_version, feature_snapshot_id, as_of, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb) ON CONFLICT (id) DO NOTHING`,
    [p.id, p.ticker, p.side, p.probability, p.expectedReturn, p.horizonDays, p.modelId, p.modelVersion, p.featureSnapshotId, p.asOf, JSON.stringify(p)],
  );
}
