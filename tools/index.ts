import { barsTool } from './bars.ts';
import { explainProposalTool } from './explain-proposal.ts';
import { indicatorsTool } from './indicators.ts';
import { newsSearchTool } from './news-search.ts';
import { portfolioTool } from './portfolio.ts';
import { pastOutcomesTool } from './past-outcomes.ts';
import { ToolRegistry } from './registry.ts';

export * from './schema.ts';
export {
  ToolRegistry,
  asOneStatement,
  boundText,
  boundedArgs,
  defineTool,
  toolCallInserts,
  type AnyTool,
  type BarsReader,
  type NewsSearcher,
  type OutcomeSearcher,
  type Tool,
  type ToolCallRows,
  type ToolContext,
} from './registry.ts';
export { computeIndicators, INDICATOR_LOOKBACK_BARS } from './indicators.ts';
export { cachedBarsReader } from './bars.ts';
export { newsEvidenceId } from './news-search.ts';
export { outcomeEvidenceId, DEFAULT_OUTCOMES_K } from './past-outcomes.ts';
export { barsTool, explainProposalTool, indicatorsTool, newsSearchTool, portfolioTool, pastOutcomesTool };

/** Every read-only tool the committee may use. */
export const ALL_TOOLS = [barsTool, indicatorsTool, newsSearchTool, explainProposalTool, portfolioTool, pastOutcomesTool] as const;

/** A registry of every tool. */
export function defaultToolRegistry(): ToolRegistry {
  return new ToolRegistry(ALL_TOOLS);
}
