import { z } from 'zod';
import { defineTool } from './registry.ts';

/** The proposal being judged and the model's top feature attributions (what drove the probability). */
export const explainProposalTool = defineTool({
  name: 'explain_proposal',
  description: "The model's top feature attributions for this proposal (feature, value, contribution to the probability).",
  input: z.object({}).strict(),
  async run(ctx) {
    const p = ctx.proposal;
    return {
      proposalId: p.id,
      ticker: p.ticker,
      side: p.side,
      probability: p.probability,
      expectedReturn: p.expectedReturn,
      horizonDays: p.horizonDays,
      model: `${p.modelId}@${p.modelVersion}`,
      attributions: [...p.attributions].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution)).slice(0, 10),
      method: p.attributionMethod ?? 'occlusion',
      base: p.attributionBase ?? null,
    };
  },
});
