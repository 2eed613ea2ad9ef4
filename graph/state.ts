/**
 * The committee graph's typed state and the events a run streams. Every value is plain JSON so a
 * checkpoint can hold it; reducers say how parallel nodes (bull and bear) merge their updates.
 */
import { Annotation } from '@langchain/langgraph';
import { z } from 'zod';
import { AgentOpinion, Verdict } from '../contracts/index.ts';
import type { ToolOutcome } from '../tools/index.ts';

/** The graph's nodes. `round_done` joins one bull/bear round. */
export const CommitteeNode = z.enum(['analyst', 'bull', 'bear', 'round_done', 'risk', 'committee']);
export type CommitteeNode = z.infer<typeof CommitteeNode>;

/** What one node cost: LLM calls, tokens and wall time (tools included). */
export const NodeStat = z
  .object({
    node: CommitteeNode,
    round: z.number().int().min(0),
    llmCalls: z.number().int().min(0),
    toolCalls: z.number().int().min(0),
    promptTokens: z.number().int().min(0),
    completionTokens: z.number().int().min(0),
    latencyMs: z.number().min(0),
    /** LLM calls of the tool-request turn (included in llmCalls). */
    toolTurnCalls: z.number().int().min(0).default(0),
    /** Tool calls that ended in a typed tool error (unknown, not allowed, bad arguments, over the limit, failed). */
    toolErrors: z.number().int().min(0).default(0),
    /** Evidence blocks in the agent's prompt (what it may cite). */
    evidenceItems: z.number().int().min(0).default(0),
    /** What those blocks cost the prompt in characters (blocks and their ids in the list of citable ids). */
    evidenceChars: z.number().int().min(0).default(0),
    /** Evidence items left out of the prompt by the per-prompt limits (settings.committee maxNewsItemsPerPrompt, maxEvidenceCharsPerPrompt). */
    evidenceDropped: z.number().int().min(0).default(0),
    /** The node ran out of its time budget (settings.committee.nodeTimeoutMs). */
    timedOut: z.boolean(),
    /** The node's output was replaced by ABSTAIN (invalid output, timeout, unreachable backend). */
    abstained: z.boolean(),
  })
  .strict();
export type NodeStat = z.infer<typeof NodeStat>;

const concat = <T>(a: T[], b: T[]): T[] => a.concat(b);

/** One tool call of a node: what was asked (bounded arguments) and how it ended. */
export const NodeToolCall = z
  .object({
    callId: z.string(),
    /** What the agent cites: `tool:<callId>`. */
    evidenceId: z.string(),
    tool: z.string(),
    args: z.unknown(),
    ok: z.boolean(),
    errorCode: z.string().nullable(),
  })
  .strict();
export type NodeToolCall = z.infer<typeof NodeToolCall>;

/**
 * How a node's tool calls were chosen: `configured` (no tool turn: agents.yaml defaultTools),
 * `agent` (the agent's tool turn; for the rules baseline, its deterministic choice), or `fallback`
 * (the tool turn failed: the defaults, with the reason).
 */
export const NodeTools = z
  .object({
    node: CommitteeNode,
    round: z.number().int().min(0),
    choice: z.enum(['configured', 'agent', 'fallback']),
    reason: z.string().nullable(),
    calls: z.array(NodeToolCall),
    /** Calls past twice maxToolCallsPerAgent: neither run nor stored. */
    ignored: z.number().int().min(0),
  })
  .strict();
export type NodeTools = z.infer<typeof NodeTools>;

/** The committee's state. */
export const CommitteeState = Annotation.Root({
  /** Tool outcomes gathered so far (analyst's, then risk's): the evidence of the run. `text` is empty for news_search and failed calls (evidence builds those from their data; committee.ts stateOutcome). */
  outcomes: Annotation<ToolOutcome[]>({ reducer: concat, default: () => [] }),
  /** Opinions in the order they were given (bull and bear of one round in either order). */
  opinions: Annotation<AgentOpinion[]>({ reducer: concat, default: () => [] }),
  /** Debate rounds completed. */
  round: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
  verdict: Annotation<Verdict | null>({ reducer: (_a, b) => b, default: () => null }),
  nodeStats: Annotation<NodeStat[]>({ reducer: concat, default: () => [] }),
  /** Each node's tool calls and how they were chosen. */
  toolCalls: Annotation<NodeTools[]>({ reducer: concat, default: () => [] }),
});
export type CommitteeStateValue = typeof CommitteeState.State;
export type CommitteeStateUpdate = typeof CommitteeState.Update;

/** Progress of a run, node by node (the API streams these as server-sent events). */
export const CommitteeEvent = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('run_started'),
      runId: z.string(),
      threadId: z.string(),
      backend: z.string(),
      /** True when the run continues from a checkpoint. */
      resumed: z.boolean(),
    })
    .strict(),
  z
    .object({
      type: z.literal('node_finished'),
      runId: z.string(),
      node: CommitteeNode,
      round: z.number().int().min(0),
      opinion: AgentOpinion.nullable(),
      verdict: Verdict.nullable(),
      stat: NodeStat,
    })
    .strict(),
  z.object({ type: z.literal('run_finished'), runId: z.string(), verdict: Verdict }).strict(),
]);
export type CommitteeEvent = z.infer<typeof CommitteeEvent>;

/** Totals of a run, as reported per proposal. */
export const CommitteeStats = z
  .object({
    llmCalls: z.number().int().min(0),
    toolCalls: z.number().int().min(0),
    /** LLM calls spent on tool-request turns (included in llmCalls). */
    toolTurnCalls: z.number().int().min(0).default(0),
    toolErrors: z.number().int().min(0).default(0),
    /** Evidence items left out of prompts by the per-prompt limits, summed over the nodes. */
    evidenceDropped: z.number().int().min(0).default(0),
    promptTokens: z.number().int().min(0),
    completionTokens: z.number().int().min(0),
    latencyMsByNode: z.record(z.string(), z.number().min(0)),
    nodes: z.array(NodeStat),
  })
  .strict();
export type CommitteeStats = z.infer<typeof CommitteeStats>;

/** Sums node stats into run totals. */
export function totalStats(nodes: readonly NodeStat[]): CommitteeStats {
  const latencyMsByNode: Record<string, number> = {};
  for (const n of nodes) latencyMsByNode[n.node] = (latencyMsByNode[n.node] ?? 0) + n.latencyMs;
  return {
    llmCalls: nodes.reduce((a, n) => a + n.llmCalls, 0),
    toolCalls: nodes.reduce((a, n) => a + n.toolCalls, 0),
    toolTurnCalls: nodes.reduce((a, n) => a + (n.toolTurnCalls ?? 0), 0),
    toolErrors: nodes.reduce((a, n) => a + (n.toolErrors ?? 0), 0),
    evidenceDropped: nodes.reduce((a, n) => a + (n.evidenceDropped ?? 0), 0),
    promptTokens: nodes.reduce((a, n) => a + n.promptTokens, 0),
    completionTokens: nodes.reduce((a, n) => a + n.completionTokens, 0),
    latencyMsByNode,
    nodes: [...nodes],
  };
}
