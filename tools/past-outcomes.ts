import { z } from 'zod';
import { QuorumError, Ticker } from '../contracts/index.ts';
import { MAX_OUTCOME_K, situationText } from '../rag/outcomes.ts';
import { defineTool } from './registry.ts';
import type { OutcomeEvidence } from './schema.ts';

export const DEFAULT_OUTCOMES_K = 3;

export const PastOutcomesInput = z
  .object({
    /** Default: the proposal's ticker. null searches every ticker's outcomes. */
    ticker: Ticker.nullable().optional(),
    k: z.number().int().min(1).max(MAX_OUTCOME_K).default(DEFAULT_OUTCOMES_K),
  })
  .strict();

/** The evidence id of a stored outcome record. */
export function outcomeEvidenceId(id: string): string {
  return id.startsWith('outcome:') ? id : `outcome:${id}`;
}

/**
 * Outcome memory: past proposals in a situation like this one, with the verdict and what happened,
 * known before the as-of time (ADR 0035). Read-only; the situation is the proposal's own.
 */
export const pastOutcomesTool = defineTool({
  name: 'past_outcomes',
  description:
    "Past proposals in a similar situation, with the committee's verdict and what happened, known before the as-of time; ticker defaults to the proposal's, null searches all.",
  input: PastOutcomesInput,
  async run(ctx, input) {
    if (!ctx.searchOutcomes) throw new QuorumError('NOT_FOUND', 'outcome memory is not available in this run');
    const ticker = input.ticker === undefined ? ctx.proposal.ticker : input.ticker;
    const asOfMs = Date.parse(ctx.asOf);
    const results = await ctx.searchOutcomes({ query: situationText(ctx.proposal), asOf: new Date(ctx.asOf), ticker, k: input.k });
    const hits: OutcomeEvidence[] = results
      // The store already filters by time (known_at < as-of); this guards the promise against any later change there.
      .filter((r) => Date.parse(r.knownAt) < asOfMs)
      .map((r) => ({
        evidenceId: outcomeEvidenceId(r.id),
        outcomeId: r.id,
        ticker: r.ticker,
        side: r.side,
        asOf: r.asOf,
        knownAt: r.knownAt,
        decision: r.decision,
        directionalReturn: r.directionalReturn,
        summary: r.summary.slice(0, 600),
        reflection: r.reflection,
        similarity: r.similarity,
      }));
    return { asOf: ctx.asOf, ticker: ticker ?? null, hits };
  },
});
