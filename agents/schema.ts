/**
 * What each role must answer, as the LLM sees it (the JSON schema handed to the grammar / Ollama
 * `format`) and as we validate it. Bounds are tighter than the contracts' so that a grammar-bound
 * model always finishes within a few hundred tokens; the outputs are then mapped to the contracts'
 * AgentOpinion and Verdict.
 */
import { z } from 'zod';
import { AgentRole, Decision, EvidenceId, Stance } from '../contracts/index.ts';

/** Every role of the committee: the four critics and the committee node. */
export const RoleName = z.enum([...AgentRole.options, 'committee']);
export type RoleName = z.infer<typeof RoleName>;

/** The roles whose output is an AgentOpinion. */
export const OPINION_ROLES = AgentRole.options;

/**
 * String bounds below are what the model is told (JSON-schema `maxLength`, counted in characters by
 * the grammar). zod counts UTF-16 units, and one character is at most two units, so validation allows
 * twice the bound: a grammar-bound answer can never fail on length.
 */
export const UTF16_UNITS_PER_CHAR = 2;
export const MAX_SUMMARY_CHARS = 240;
export const MAX_CLAIM_CHARS = 160;
export const MAX_CLAIMS = 4;
export const MAX_CLAIM_EVIDENCE = 3;
export const MAX_DISSENT = 3;

/** A statement and the evidence ids it rests on (ids from the evidence blocks of the prompt). */
export const LlmClaim = z
  .object({
    text: z
      .string()
      .min(1)
      .max(MAX_CLAIM_CHARS * UTF16_UNITS_PER_CHAR),
    evidence: z.array(EvidenceId).max(MAX_CLAIM_EVIDENCE),
  })
  .strict();
export type LlmClaim = z.infer<typeof LlmClaim>;

/** The output of the analyst, bull, bear and risk roles. */
export const OpinionOutput = z
  .object({
    stance: Stance,
    confidence: z.number().min(0).max(1),
    summary: z.string().max(MAX_SUMMARY_CHARS * UTF16_UNITS_PER_CHAR),
    claims: z.array(LlmClaim).max(MAX_CLAIMS),
  })
  .strict();
export type OpinionOutput = z.infer<typeof OpinionOutput>;

/** The committee's output. `sizeMultiplier` can only shrink the proposal (clamped to [0, 1] in code). */
export const CommitteeOutput = z
  .object({
    decision: Decision,
    sizeMultiplier: z.number().min(0).max(1),
    confidence: z.number().min(0).max(1),
    reasons: z.array(LlmClaim).max(MAX_CLAIMS),
    dissent: z.array(z.string().max(MAX_CLAIM_CHARS * UTF16_UNITS_PER_CHAR)).max(MAX_DISSENT),
  })
  .strict();
export type CommitteeOutput = z.infer<typeof CommitteeOutput>;

/** The output schema of each role. */
export const ROLE_OUTPUT_SCHEMAS = {
  analyst: OpinionOutput,
  bull: OpinionOutput,
  bear: OpinionOutput,
  risk: OpinionOutput,
  committee: CommitteeOutput,
} as const satisfies Record<RoleName, z.ZodType>;

/** The validated output of a role. */
export type RoleOutput<R extends RoleName> = z.infer<(typeof ROLE_OUTPUT_SCHEMAS)[R]>;

/** One piece of evidence handed to an agent: a news item, a tool result, a feature attribution. */
export const EvidenceItem = z
  .object({
    id: EvidenceId,
    /** What kind of evidence: `news`, `tool`, `feature`, … (shown to the model). */
    kind: z.string().min(1).max(40),
    /** A short title, e.g. a headline (treated as data, escaped). */
    title: z.string().max(300).default(''),
    /** The body, already bounded by the producer (treated as data, escaped). */
    text: z.string().max(20_000),
    /** When the evidence was published or observed (point in time). */
    at: z.string().max(40).nullable().default(null),
  })
  .strict();
export type EvidenceItem = z.infer<typeof EvidenceItem>;
export type EvidenceItemInput = z.input<typeof EvidenceItem>;
