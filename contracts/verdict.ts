import { z } from 'zod';
import { EvidenceId, IsoDateTime, Unit } from './common.ts';

export const Decision = z.enum(['APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN']);
export type Decision = z.infer<typeof Decision>;

export const Reason = z
  .object({
    text: z.string().min(1).max(600),
    evidence: z.array(EvidenceId).max(8),
  })
  .strict();
export type Reason = z.infer<typeof Reason>;

export const TokenCounts = z
  .object({
    prompt: z.number().int().min(0),
    completion: z.number().int().min(0),
  })
  .strict();
export type TokenCounts = z.infer<typeof TokenCounts>;

/**
 * The committee's verdict. `sizeMultiplier` is in [0, 1]: the committee can shrink or veto a
 * proposal, never enlarge it. A value outside the range is refused here, before the risk controller.
 */
export const Verdict = z
  .object({
    id: z.string().min(1),
    proposalId: z.string().min(1),
    decision: Decision,
    sizeMultiplier: Unit,
    confidence: Unit,
    reasons: z.array(Reason).max(12),
    dissent: z.array(z.string().max(600)).max(8),
    backend: z.string().min(1),
    model: z.string().min(1),
    promptVersion: z.string().min(1),
    tokens: TokenCounts,
    /** Why the verdict is ABSTAIN when it was forced (invalid output, timeout, …). */
    abstainReason: z.string().max(1000).nullable(),
    createdAt: IsoDateTime,
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.decision === 'REJECT' || v.decision === 'ABSTAIN') {
      if (v.sizeMultiplier !== 0) ctx.addIssue({ code: 'custom', path: ['sizeMultiplier'], message: `must be 0 when decision is ${v.decision}` });
    }
  });
export type Verdict = z.infer<typeof Verdict>;
