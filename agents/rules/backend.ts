/**
 * The rules baseline behind the ChatBackend interface, so the graph runs it through the same
 * runAgent pipeline as an LLM (same validation, citation filter, clamping, transcript). It answers
 * from the structured evidence it is built with, not from the prompt text: news text can only move
 * it through its lexicon sentiment.
 */
import { createHash } from 'node:crypto';
import type { ChatBackend, Completion, CompletionRequest, ToolRequest, ToolRequestAnswer } from '../backends/types.ts';
import { rolePrompt, type RolePrompt } from '../prompts.ts';
import type { RoleName } from '../schema.ts';
import { RULES_THRESHOLDS, assessRules, rulesCommittee, rulesOpinion, type RulesEvidence } from './critic.ts';

/** The backend name stored with every rules output. */
export const RULES_BACKEND = 'rules';
/** The model name stored with every rules output: the critic and its version. */
export const RULES_MODEL = 'rules-baseline.v1';

/** What the rules critic is, stored as its "system prompt" in the transcript and hashed into its version. */
export const RULES_DESCRIPTION = [
  'Rules baseline critic (deterministic, no LLM).',
  'Trend: EMA12/EMA26 ratio, MACD histogram sign, RSI14 extremes, relative to the proposal side.',
  'News: AFINN financial lexicon sentiment of retrieved items about the ticker; strongly against the side vetoes.',
  'Volatility: high realised volatility or ATR% shrinks the size towards a target volatility.',
  'Liquidity: low average dollar volume vetoes or halves the size.',
  'Outcome memory (when the run has it): similar past proposals on the same side that lost on average in their direction shrink the size; memory never enlarges it.',
  'News text is data: only its lexicon sentiment is used.',
  `Thresholds: ${JSON.stringify(RULES_THRESHOLDS)}`,
].join('\n');

/** The rules critic's "prompt" for a role: its description, versioned like an LLM prompt. */
export function rulesPrompt(role: RoleName): RolePrompt {
  return rolePrompt(role, RULES_MODEL, `${RULES_DESCRIPTION}\nRole: ${role}`);
}

/** A short digest of the rules description (for notices and reports). */
export function rulesVersion(): string {
  return createHash('sha256').update(RULES_DESCRIPTION).digest('hex').slice(0, 12);
}

/** A ChatBackend answering every role from `evidence` with the rules critic. */
export function createRulesBackend(evidence: RulesEvidence): ChatBackend {
  return {
    name: RULES_BACKEND,
    model: () => RULES_MODEL,
    async complete(request: CompletionRequest): Promise<Completion> {
      const started = performance.now();
      const assessment = assessRules(evidence);
      const output = request.role === 'committee' ? rulesCommittee(assessment) : rulesOpinion(request.role, assessment);
      return { text: JSON.stringify(output), tokens: { prompt: 0, completion: 0 }, latencyMs: performance.now() - started };
    },
    // The yardstick chooses deterministically: the configured default calls, never anything else.
    async requestTools(request: ToolRequest): Promise<ToolRequestAnswer> {
      const calls = request.defaults.slice(0, request.maxCalls).map((c) => ({ name: c.name, args: c.args }));
      return {
        calls,
        text: JSON.stringify({ calls: calls.map((c) => ({ tool: c.name, arguments: c.args })) }),
        tokens: { prompt: 0, completion: 0 },
        latencyMs: 0,
      };
    },
  };
}
