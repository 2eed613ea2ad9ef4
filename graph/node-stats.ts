/** One node's numbers (graph/state.ts NodeStat): calls, tokens, evidence, latency, timeouts. */
import type { AgentRunResult, ToolTurnResult } from '../agents/index.ts';
import type { ToolOutcome } from '../tools/index.ts';
import type { Judge } from './backend.ts';
import type { EvidenceSelection } from './evidence.ts';
import type { CommitteeNode, NodeStat } from './state.ts';

export interface NodeStatInput {
  node: CommitteeNode;
  round: number;
  judge: Judge;
  result: AgentRunResult;
  /** The node's tool turn, if it had one. */
  turn: ToolTurnResult | null;
  /** The tool outcomes the node added. */
  outcomes: readonly ToolOutcome[];
  evidence: EvidenceSelection;
  latencyMs: number;
  /** The node's time budget (settings.committee.nodeTimeoutMs). */
  budgetMs: number;
}

/** The stat of a finished agent node; the rules baseline's answers are not LLM calls. */
export function nodeStat(input: NodeStatInput): NodeStat {
  const { result, turn, evidence, outcomes, judge } = input;
  const turnCalls = judge.usesLlm && turn ? turn.llmCalls : 0;
  return {
    node: input.node,
    round: input.round,
    llmCalls: (judge.usesLlm ? result.calls : 0) + turnCalls,
    toolCalls: outcomes.length,
    toolTurnCalls: turnCalls,
    toolErrors: outcomes.filter((o) => !o.ok).length,
    evidenceItems: evidence.items.length,
    evidenceChars: evidence.chars,
    evidenceDropped: evidence.dropped.length,
    promptTokens: result.tokens.prompt + (turn?.tokens.prompt ?? 0),
    completionTokens: result.tokens.completion + (turn?.tokens.completion ?? 0),
    latencyMs: input.latencyMs,
    timedOut: result.abstainCode === 'LLM_TIMEOUT' || input.latencyMs >= input.budgetMs,
    abstained: result.abstainReason !== null,
  };
}
