/**
 * A node's tool calls: chosen by the agent in a tool-request turn, or the role's configured
 * defaults; every call goes through the registry with the role's allowed list.
 */
import type { Proposal } from '../contracts/index.ts';
import {
  loadToolTurnPrompt,
  runToolTurn,
  toolSpecs,
  type RequestedToolCall,
  type RoleName,
  type ToolTurnPrompt,
  type ToolTurnResult,
} from '../agents/index.ts';
import { boundText, boundedArgs, type ToolCallRows, type ToolContext, type ToolOutcome } from '../tools/index.ts';
import { SEEN_MAX_ITEMS, SEEN_TITLE_CHARS, selectEvidence } from './evidence.ts';
import { abortError, evidenceLimits, type RunDeps } from './run-deps.ts';
import type { CommitteeNode, CommitteeStateValue, NodeToolCall, NodeTools } from './state.ts';
import { toolTurnRows, type NodeRecord } from './transcript.ts';

/** Bars the analyst's `bars` call asks for by default (the indicators already summarise more). */
export const DEFAULT_ANALYST_BARS = 5;
/** News items the analyst's search asks for by default. */
export const DEFAULT_ANALYST_NEWS_K = 3;
/** Characters of a call's arguments kept in the graph state and the transcript's tool-turn record. */
const MAX_RECORDED_ARGS_CHARS = 1_000;

/** The default arguments of each tool (the configured calls, the fallback, the rules baseline's choice). */
function defaultArgs(tool: string, proposal: Proposal): unknown {
  switch (tool) {
    case 'bars':
      return { limit: DEFAULT_ANALYST_BARS };
    case 'news_search':
      return { query: `${proposal.ticker} company news outlook`, k: DEFAULT_ANALYST_NEWS_K };
    default:
      return {};
  }
}

/** The tool-turn prompt, read once. */
let toolTurnPrompt: ToolTurnPrompt | undefined;

/** What a node's tools cost and gave: the outcomes, the record of the calls, the tool turn if any, and their rows to store. */
export interface GatheredTools {
  outcomes: ToolOutcome[];
  record: NodeTools | null;
  turn: ToolTurnResult | null;
  rows: NodeRecord;
}

/**
 * A node's tool calls. With `toolTurn` (agents.yaml) the agent chooses them in a tool-request turn
 * (the rules baseline answers the defaults); otherwise, or when the turn fails, the role's
 * `defaultTools` are called with their default arguments. Every call goes through the registry
 * with the role's allowed list: an unknown tool, a tool not allowed to the role, bad arguments or a
 * call over maxToolCallsPerAgent becomes a typed tool error the agent sees, never an exception.
 * The as-of time comes from the proposal, never from the agent (no tool takes it as an argument).
 */
export async function gatherTools(
  deps: RunDeps,
  node: CommitteeNode,
  role: RoleName,
  state: CommitteeStateValue,
  round: number,
  deadline: number,
): Promise<GatheredTools> {
  const settings = deps.config.settings;
  const agent = deps.config.agents[role];
  const max = settings.committee.maxToolCallsPerAgent;
  const defaults: RequestedToolCall[] = (agent.defaultTools ?? agent.tools).slice(0, max).map((name) => ({ name, args: defaultArgs(name, deps.proposal) }));
  // Outcome memory is the run's, not the role's configuration (ADR 0035): with it, past_outcomes is
  // one more tool an agent choosing its calls is offered and may call with its own arguments.
  const memoryOn = deps.searchOutcomes !== undefined;
  const allowed = memoryOn && !agent.tools.includes('past_outcomes') ? [...agent.tools, 'past_outcomes'] : agent.tools;
  let turn: ToolTurnResult | null = null;
  if (agent.toolTurn && agent.tools.length > 0 && max > 0) {
    toolTurnPrompt ??= loadToolTurnPrompt();
    // The news this agent's prompt would show so far (bounded like its evidence block), not all of it.
    const seen = selectEvidence(state.outcomes, role, evidenceLimits(deps.config))
      .items.filter((e) => e.kind === 'news')
      .slice(0, SEEN_MAX_ITEMS)
      .map((e) => ({ id: e.id, title: boundText(e.title ?? '', SEEN_TITLE_CHARS).text }));
    turn = await runToolTurn({
      role,
      backend: deps.judge.chat(deps.proposal, state.outcomes),
      prompt: toolTurnPrompt,
      proposal: deps.proposal,
      tools: toolSpecs(deps.tools.describe(allowed)),
      maxCalls: max,
      defaults,
      seen,
      signal: deps.runSignal,
      // At most half of what is left, so a tool turn that hangs still leaves the agent time to answer.
      timeoutMs: Math.max(1, Math.floor(Math.min(deps.config.models.llm.timeoutMs, (deadline - performance.now()) / 2))),
      maxOutputTokens: deps.config.models.llm.maxOutputTokens,
    });
    if (deps.runSignal?.aborted) throw abortError(deps.runSignal);
  }
  // With memory the analyst always reads the outcomes of similar past situations: after its own
  // calls and outside the per-agent limit, unless it asked for them itself in its tool turn.
  const chosen = turn ? turn.requested : defaults;
  const memory: RequestedToolCall[] =
    memoryOn && role === 'analyst' && !chosen.some((c) => c.name === 'past_outcomes') ? [{ name: 'past_outcomes', args: {} }] : [];
  const requested = [...chosen, ...memory];
  const overLimit = turn ? turn.overLimit : [];
  if (requested.length === 0 && overLimit.length === 0 && !turn) return { outcomes: [], record: null, turn: null, rows: { messages: [], calls: [] } };
  const callRows: ToolCallRows[] = [];
  const ctx: ToolContext = {
    db: deps.db,
    runId: deps.runId,
    agent: role,
    proposal: deps.proposal,
    asOf: deps.proposal.asOf,
    maxResultChars: settings.committee.maxToolResultChars,
    riskRules: deps.config.riskRules,
    sectors: settings.market.sectors,
    searchNews: deps.searchNews,
    searchOutcomes: deps.searchOutcomes,
    signal: deps.runSignal,
    readBars: deps.readBars,
    // Stored with the node's transcript when the node finishes (graph/storage.ts).
    record: (rows) => callRows.push(rows),
  };
  const outcomes: ToolOutcome[] = [];
  const calls: NodeToolCall[] = [];
  const note = (o: ToolOutcome, args: unknown): void => {
    outcomes.push(o);
    calls.push({
      callId: o.callId,
      evidenceId: o.evidenceId,
      tool: o.tool,
      args: boundedArgs(args, MAX_RECORDED_ARGS_CHARS),
      ok: o.ok,
      errorCode: o.ok ? null : o.error.code,
    });
  };
  for (const call of requested) {
    if (performance.now() >= deadline || deps.runSignal?.aborted) break;
    note(await deps.tools.call(ctx, call.name, call.args, { allowed }), call.args);
  }
  for (const call of overLimit) {
    if (deps.runSignal?.aborted) break;
    const error = { code: 'FORBIDDEN' as const, message: `not run: over the limit of ${max} tool call(s) per agent (settings.committee.maxToolCallsPerAgent)` };
    note(await deps.tools.reject(ctx, call.name, call.args, error), call.args);
  }
  const record: NodeTools = {
    node,
    round,
    choice: turn ? turn.choice : 'configured',
    reason: turn?.fallbackReason ?? null,
    calls,
    ignored: turn?.ignored ?? 0,
  };
  const messages = turn ? toolTurnRows({ runId: deps.runId, node, round, turn, tools: record }) : [];
  return { outcomes, record, turn, rows: { messages, calls: callRows } };
}
