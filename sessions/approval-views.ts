import { z } from 'zod';
import { ApprovalFilter, ApprovalView, SubmitOutcomeView, listApprovals } from '../execution/index.ts';

/** A pending or answered approval with what it would order (GET /v1/approvals, `quorum approvals`): execution/ owns the table. */
export const ApprovalItem = ApprovalView;
export type ApprovalItem = ApprovalView;
export const ApprovalStatusFilter = ApprovalFilter;
export type ApprovalStatusFilter = ApprovalFilter;

/** What answering an approval led to: the human decision and the order (null when rejected or denied). */
export const ApprovalReply = z.object({
  id: z.string(),
  status: z.enum(['approved', 'rejected']),
  decision: z.string().nullable(),
  order: SubmitOutcomeView.nullable(),
});
export type ApprovalReply = z.infer<typeof ApprovalReply>;

/** Approvals (pending by default), each parsed with its schema. */
export const listApprovalItems = listApprovals;
