/**
 * The committee's node bodies: an agent node (tools, then the agent within the node's time budget),
 * the opinion nodes and the committee node. graph/committee.ts wires them into the graph.
 */
import type { LangGraphRunnableConfig } from '@langchain/langgraph';
import { QuorumError, type AgentOpinion, type AgentRole, type Verdict } from '../contracts/index.ts';
import { runAgent, type AgentRunResult, type RoleName } from '../agents/index.ts';
import type { ToolOutcome } from '../tools/index.ts';
import { selectEvidence } from './evidence.ts';
import { gatherTools } from './gather-tools.ts';
import { nodeStat } from './node-stats.ts';
import { abortError, evidenceLimits, verdictIdOf, type RunDeps } from './run-deps.ts';
import { storeNodeRows } from './storage.ts';
import { totalStats, type CommitteeNode, type CommitteeStateValue, type NodeStat, type NodeTools } from './state.ts';
import { nodeTranscriptRows, type NodeRecord } from './transcript.ts';

type NodeUpdate = Partial<CommitteeStateValue>;

/**
 * Opinions an agent sees: bull and bear see the analyst and earlier rounds; the risk officer judges
 * the risk facts and sees only the analyst (not the debate); the committee sees everything.
 */
function visibleOpinions(state: CommitteeStateValue, role: RoleName, round: number): AgentOpinion[] {
  if (role === 'bull' || role === 'bear') return state.opinions.filter((o) => o.role === 'analyst' || o.round < round);
  if (role === 'risk') return state.opinions.filter((o) => o.role === 'analyst');
  return state.opinions;
}

/** One agent node: tools (chosen or configured), then the agent (LLM or rules) within the node's time budget. */
async function agentNode(
  deps: RunDeps,
  node: CommitteeNode,
  role: RoleName,
  state: CommitteeStateValue,
  round: number,
): Promise<{ result: AgentRunResult; newOutcomes: ToolOutcome[]; tools: NodeTools[]; stat: NodeStat; rows: NodeRecord }> {
  const started = performance.now();
  const budget = deps.config.settings.committee.nodeTimeoutMs;
  const deadline = started + budget;
  const gathered = await gatherTools(deps, node, role, state, round, deadline);
  const newOutcomes = gathered.outcomes;
  const evidence = selectEvidence([...state.outcomes, ...newOutcomes], role, evidenceLimits(deps.config));
  const remaining = Math.max(1, Math.ceil(Math.min(deps.config.models.llm.timeoutMs, deadline - performance.now())));
  const result = await runAgent({
    role,
    // The rules critic judges on the tool data of the same bounded evidence an LLM is shown.
    backend: deps.judge.chat(deps.proposal, evidence.outcomes),
    prompt: deps.judge.prompt(role, deps.prompts),
    proposal: deps.proposal,
    evidence: evidence.items,
    omittedEvidence: evidence.dropped.length,
    opinions: visibleOpinions(state, role, round),
    round,
    signal: deps.runSignal,
    timeoutMs: remaining,
    maxOutputTokens: deps.config.agents[role].maxOutputTokens ?? deps.config.models.llm.maxOutputTokens,
    verdictId: verdictIdOf(deps.runId),
    now: deps.now,
  });
  // A killed run must not checkpoint an ABSTAIN it produced only because it was killed.
  if (deps.runSignal?.aborted) throw abortError(deps.runSignal);
  const stat = nodeStat({
    node,
    round,
    judge: deps.judge,
    result,
    turn: gathered.turn,
    outcomes: newOutcomes,
    evidence,
    latencyMs: performance.now() - started,
    budgetMs: budget,
  });
  return { result, newOutcomes, tools: gathered.record ? [gathered.record] : [], stat, rows: gathered.rows };
}

/**
 * An outcome as the state (and so every later checkpoint) keeps it. Evidence reads `text` only of
 * successful calls other than news_search (graph/evidence.ts builds news hits and errors from their
 * data), and tool_calls stored the hash and size of the full text already: for the others the text
 * is dropped, which cuts each checkpoint by the news result's bounded JSON (up to maxToolResultChars).
 */
const stateOutcome = (o: ToolOutcome): ToolOutcome => (!o.ok || o.tool === 'news_search' ? { ...o, text: '' } : o);

/** An opinion node (analyst, bull, bear, risk); a role disabled in agents.yaml adds nothing. */
export async function opinionNode(
  deps: RunDeps,
  node: CommitteeNode,
  role: AgentRole,
  state: CommitteeStateValue,
  round: number,
  config: LangGraphRunnableConfig,
): Promise<NodeUpdate> {
  if (!deps.config.agents[role].enabled) return {};
  const { result, newOutcomes, tools, stat, rows } = await agentNode(deps, node, role, state, round);
  if (result.role === 'committee') throw new QuorumError('INTERNAL', `node ${node} produced a committee result`);
  rows.messages.push(...nodeTranscriptRows({ runId: deps.runId, node, round, result, output: result.opinion }));
  await storeNodeRows(deps, config.configurable?.thread_id, node, round, rows);
  deps.emit({ type: 'node_finished', runId: deps.runId, node, round, opinion: result.opinion, verdict: null, stat });
  return { outcomes: newOutcomes.map(stateOutcome), opinions: [result.opinion], nodeStats: [stat], toolCalls: tools };
}

/** The ABSTAIN verdict of a disabled committee (agents.yaml committee.enabled: false). */
function disabledVerdict(deps: RunDeps): Verdict {
  return {
    id: verdictIdOf(deps.runId),
    proposalId: deps.proposal.id,
    decision: 'ABSTAIN',
    sizeMultiplier: 0,
    confidence: 0,
    reasons: [],
    dissent: [],
    backend: deps.judge.name,
    model: 'none',
    promptVersion: 'none',
    tokens: { prompt: 0, completion: 0 },
    abstainReason: 'the committee role is disabled in agents.yaml',
    createdAt: deps.now().toISOString(),
  };
}

/** The committee node: the verdict, stored with the run's close. */
export async function committeeNode(deps: RunDeps, state: CommitteeStateValue, config: LangGraphRunnableConfig): Promise<NodeUpdate> {
  if (!deps.config.agents.committee.enabled) return { verdict: disabledVerdict(deps) };
  const round = state.round;
  const { result, newOutcomes, tools, stat, rows } = await agentNode(deps, 'committee', 'committee', state, round);
  if (result.role !== 'committee') throw new QuorumError('INTERNAL', 'committee node produced an opinion');
  rows.messages.push(...nodeTranscriptRows({ runId: deps.runId, node: 'committee', round, result, output: result.verdict }));
  // With our checkpointer the verdict and the closed run go into the statement of this node's
  // writes (nothing can store one without the other); runCommittee then has nothing to close.
  const finish = { runId: deps.runId, verdict: result.verdict, stats: totalStats([...state.nodeStats, stat]) };
  deps.closed = await storeNodeRows(deps, config.configurable?.thread_id, 'committee', round, rows, finish);
  deps.emit({ type: 'node_finished', runId: deps.runId, node: 'committee', round, opinion: null, verdict: result.verdict, stat });
  return { verdict: result.verdict, nodeStats: [stat], outcomes: newOutcomes.map(stateOutcome), toolCalls: tools };
}
