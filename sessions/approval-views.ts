import { z } from 'zod';
import { SubmitOutcomeView } from '../execution/index.ts';
import { listApprovals } from './order-graph.ts';

const Iso = z.preprocess((v) => (v instanceof Date ? v.toISOString() : v), z.string());

/** A pending or answered approval with what it would order (GET /v1/approvals, `quorum approvals`). */
export const ApprovalItem = z.object({
  id: z.string(),
  status: z.enum(['pending', 'approved', 'rejected']),
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
export type ApprovalItem = z.infer<typeof ApprovalItem>;

export const ApprovalStatusFilter = z.enum(['pending', 'approved', 'rejected', 'all']);
export type ApprovalStatusFilter = z.infer<typeof ApprovalStatusFilter>;

/** What answering an approval led to: the human decision and the order (null when rejected or denied). */
export const ApprovalReply = z.object({
  id: z.string(),
  status: z.enum(['approved', 'rejected']),
  decision: z.string().nullable(),
  order: SubmitOutcomeView.nullable(),
});
export type ApprovalReply = z.infer<typeof ApprovalReply>;

/** Approvals (pending by default), each parsed with its schema. */
export async function listApprovalItems(env: Parameters<typeof listApprovals>[0], status: ApprovalStatusFilter = 'pending'): Promise<ApprovalItem[]> {
  return (await listApprovals(env, status)).map((row) => ApprovalItem.parse(row));
}
