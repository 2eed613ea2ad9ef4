import { z } from 'zod';
import { QuorumError } from '../contracts/index.ts';
import { appendAudit, type Db } from '../db/index.ts';

/** A human's answer to a pending approval. */
export const ApprovalAnswer = z
  .object({
    approve: z.boolean(),
    by: z.string().min(1).max(200),
    reason: z.string().trim().min(1).max(1000),
  })
  .strict();
export type ApprovalAnswer = z.infer<typeof ApprovalAnswer>;

export const ApprovalStatus = z.enum(['pending', 'approved', 'rejected']);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;
export const ApprovalFilter = z.enum(['pending', 'approved', 'rejected', 'all']);
export type ApprovalFilter = z.infer<typeof ApprovalFilter>;

/** The approval id of a risk decision. */
export const approvalIdOf = (decisionId: string): string => `apv_${decisionId.replace(/^rd_/, '').slice(0, 24)}`;

const Iso = z.preprocess((v) => (v instanceof Date ? v.toISOString() : v), z.string());

/** A pending or answered approval with what it would order (the approvals read model). */
export const ApprovalView = z.object({
  id: z.string(),
  status: ApprovalStatus,
  decided_by: z.string().nullable(),
  reason: z.string().nullable(),
  created_at: Iso,
  decided_at: Iso.nullable(),
  verdict_id: z.string(),
  verdict: z.string(),
  size_multiplier: z.number(),
  proposal_id: z.string(),
  ticker: z.string(),
  side: z.string(),
  risk_decision_id: z.string().nullable(),
  action: z.string().nullable(),
  final_qty: z.number().nullable(),
  stop: z.number().nullable(),
  target: z.number().nullable(),
});
export type ApprovalView = z.infer<typeof ApprovalView>;

/** Stores a pending approval for a risk decision; idempotent (a resumed run finds its row). */
export async function requestApproval(
  db: Db,
  input: { id: string; runId: string | null; verdictId: string; decisionId: string; ticker: string; side: string; qty: number },
): Promise<void> {
  const created = await db.query(
    `INSERT INTO approvals (id, run_id, verdict_id, status) VALUES ($1, $2, $3, 'pending') ON CONFLICT (id) DO NOTHING RETURNING id`,
    [input.id, input.runId, input.verdictId],
  );
  if (created.rows.length > 0)
    await appendAudit(db, 'approval.requested', 'approval', input.id, { decision: input.decisionId, ticker: input.ticker, side: input.side, qty: input.qty });
}

/** Records a human's answer to a pending approval (a second answer changes nothing). */
export async function recordApprovalAnswer(db: Db, id: string, answer: ApprovalAnswer): Promise<void> {
  await db.query(`UPDATE approvals SET status = $2, decided_by = $3, reason = $4, decided_at = now() WHERE id = $1 AND status = 'pending'`, [
    id,
    answer.approve ? 'approved' : 'rejected',
    answer.by,
    answer.reason,
  ]);
  await appendAudit(db, answer.approve ? 'approval.approved' : 'approval.rejected', 'approval', id, { by: answer.by, reason: answer.reason });
}

const ApprovalRow = z.object({ id: z.string(), status: ApprovalStatus, proposal_id: z.string() });

/** A pending approval and the proposal it belongs to: NOT_FOUND when unknown, CONFLICT when already answered. */
export async function pendingApproval(db: Db, id: string): Promise<{ id: string; proposalId: string }> {
  const res = await db.query(`SELECT a.id, a.status, v.proposal_id FROM approvals a JOIN verdicts v ON v.id = a.verdict_id WHERE a.id = $1`, [id]);
  if (!res.rows[0]) throw new QuorumError('NOT_FOUND', `no approval ${id}`);
  const row = ApprovalRow.parse(res.rows[0]);
  if (row.status !== 'pending') throw new QuorumError('CONFLICT', `approval ${id} is already ${row.status}`);
  return { id: row.id, proposalId: row.proposal_id };
}

/** Approvals (pending by default) with what they would order, oldest first. */
export async function listApprovals(env: { db: Db }, status: ApprovalFilter = 'pending'): Promise<ApprovalView[]> {
  const res = await env.db.query(
    `SELECT a.id, a.status, a.decided_by, a.reason, a.created_at, a.decided_at, v.id AS verdict_id, v.decision AS verdict,
            v.size_multiplier, p.id AS proposal_id, p.ticker, p.side, r.id AS risk_decision_id, r.action, r.final_qty, r.stop, r.target
       FROM approvals a JOIN verdicts v ON v.id = a.verdict_id JOIN proposals p ON p.id = v.proposal_id
       LEFT JOIN risk_decisions r ON r.verdict_id = v.id
      WHERE $1 = 'all' OR a.status = $1 ORDER BY a.created_at`,
    [status],
  );
  return res.rows.map((r) => ApprovalView.parse(r));
}
