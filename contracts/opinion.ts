import { z } from 'zod';
import { EvidenceId, Unit } from './common.ts';

export const AgentRole = z.enum(['analyst', 'bull', 'bear', 'risk']);
export type AgentRole = z.infer<typeof AgentRole>;

/** A claim must cite evidence ids that were given to the agent; others are dropped and counted. */
export const Claim = z
  .object({
    text: z.string().min(1).max(600),
    evidence: z.array(EvidenceId).max(8),
  })
  .strict();
export type Claim = z.infer<typeof Claim>;

export const Stance = z.enum(['support', 'oppose', 'neutral']);
export type Stance = z.infer<typeof Stance>;

/** One agent's critique of a proposal, after validation and citation checks. */
export const AgentOpinion = z
  .object({
    role: AgentRole,
    stance: Stance,
    confidence: Unit,
    summary: z.string().max(1200),
    claims: z.array(Claim).max(12),
    /** Claims dropped because they cited evidence the agent was not given. */
    droppedClaims: z.number().int().min(0),
    promptVersion: z.string().min(1),
    backend: z.string().min(1),
    model: z.string().min(1),
    round: z.number().int().min(0),
  })
  .strict();
export type AgentOpinion = z.infer<typeof AgentOpinion>;
