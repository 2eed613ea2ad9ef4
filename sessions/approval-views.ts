import { z } from 'zod';
import { SubmitOutcomeView } from '../execution/index.ts';

/** What answering an approval led to: the human decision and the order (null when rejected or denied). */
export const ApprovalReply = z.object({
  id: z.string(),
  status: z.enum(['approved', 'rejected']),
  decision: z.string().nullable(),
  order: SubmitOutcomeView.nullable(),
});
export type ApprovalReply = z.infer<typeof ApprovalReply>;
