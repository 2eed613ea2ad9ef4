/**
 * One committee run as a LangGraph StateGraph:
 *
 *   analyst (tools) ─► bull ∥ bear ─► round_done ─(round < N)─► bull ∥ bear …
 *                                        └─(round = N)─► risk (tools) ─► committee ─► Verdict
 *
 * With N = 1 (the default) bull ∥ bear join straight into risk (no round_done step).
 *
 * Each node has a time budget (settings.committee.nodeTimeoutMs): a late agent abstains (a late
 * committee gives an ABSTAIN verdict). A checkpointer on the database lets an interrupted run
 * resume with the same thread id without calling finished nodes again. Everything is stored.
 */
import { createHash, randomUUID } from 'node:crypto';
import { END, START, StateGraph, type BaseCheckpointSaver, type LangGraphRunnableConfig } from '@langchain/langgraph';
import { QuorumError, errorMessage, type AgentOpinion, type AgentRole, type Proposal, type Verdict } from '../contracts/index.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import {
  createRulesBackend,
  loadRolePrompts,
  loadToolTurnPrompt,
  rulesPrompt,
  runAgent,
  runToolTurn,
  toolSpecs,
  RULES_BACKEND,
  type AgentRunResult,
  type ChatBackend,
  type RequestedToolCall,
  type RoleName,
  type RolePrompt,
  type ToolTurnPrompt,
  type ToolTurnResult,
} from '../agents/index.ts';
import { boundText, boundedArgs, cachedBarsReader, defaultToolRegistry, INDICATOR_LOOKBACK_BARS, type BarsReader, type NewsSearcher, type ToolCallRows, type ToolContext, type ToolOutcome, type ToolRegistry } from '../tools/index.ts';
import { DbCheckpointSaver, sharedCheckpointer } from './checkpointer.ts';
import { directNode } from './node.ts';
import { SEEN_MAX_ITEMS, SEEN_TITLE_CHARS, selectEvidence, type EvidenceLimits } from './evidence.ts';
import {
  CommitteeState,
  totalStats,
  type CommitteeEvent,
  type CommitteeNode,
  type CommitteeStateValue,
  type CommitteeStats,
  type NodeStat,
  type NodeToolCall,
  type NodeTools,
} from './state.ts';
import { failRun, findRunByThread, finishRun, nodeRecordInserts, nodeTranscriptRows, startRun, storeNodeRecord, toolTurnRows, type NodeRecord, type RunFinish } from './transcript.ts';

/** Who judges: an LLM backend, or the deterministic rules baseline. */
export type CommitteeBackend = ChatBackend | 'rules';

/** Bars the analyst's `bars` call asks for by default (the indicators already summarise more). */
export const DEFAULT_ANALYST_BARS = 5;
/** News items the analyst's search asks for by default. */
export const DEFAULT_ANALYST_NEWS_K = 3;
/** Where LangGraph puts a running task's id in the node's config (CONFIG_KEY_TASK_ID; not exported). */
const TASK_ID_KEY = '__pregel_task_id';
/** Characters of a call's arguments kept in the graph state and the transcript's tool-turn record. */
const MAX_RECORDED_ARGS_CHARS = 1_000;

export interface RunCommitteeOptions {
  db: Db;
  config: Config;
  /** The proposal to judge; it must be stored in `proposals`. */
  proposal: Proposal;
  backend: CommitteeBackend;
  /** Point-in-time news search (rag's searchNews bound to an embedder); without it news_search fails as a typed tool error. */
  searchNews?: NewsSearcher;
  /**
   * Default: the Db's shared checkpointer (sharedCheckpointer): PostgresSaver on PostgreSQL when a
   * URL is known, else our DbCheckpointSaver, opened and set up once per Db.
   */
  checkpointer?: BaseCheckpointSaver;
  /** URL for PostgresSaver (default: DATABASE_URL from the config). */
  databaseUrl?: string | null;
  /** Same thread id = resume that run from its last checkpoint. Default: a new thread. */
  threadId?: string;
  sessionId?: string | null;
  /** Aborting it interrupts the run (resumable with the same thread id). */
  signal?: AbortSignal;
  onEvent?: (event: CommitteeEvent) => void;
  /** Role prompts (default: loaded from agents.yaml). */
  prompts?: Readonly<Record<RoleName, RolePrompt>>;
  tools?: ToolRegistry;
  now?: () => Date;
}

export interface CommitteeResult {
  verdict: Verdict;
  runId: string;
  threadId: string;
  /** Which backend judged (`rules` for the baseline). */
  backend: string;
  resumed: boolean;
  opinions: AgentOpinion[];
  /** Each node's tool calls (arguments as asked) and how they were chosen. */
  toolCalls: NodeTools[];
  stats: CommitteeStats;
}

interface Deps {
  db: Db;
  config: Config;
  proposal: Proposal;
  backend: CommitteeBackend;
  runId: string;
  prompts: Readonly<Record<RoleName, RolePrompt>> | null;
  tools: ToolRegistry;
  searchNews?: NewsSearcher;
  runSignal?: AbortSignal;
  emit: (event: CommitteeEvent) => void;
  now: () => Date;
  /** The run's bars, read once for all its tool calls. */
  readBars: BarsReader;
  /** Set when the committee node handed the verdict and the run's close to `unit` with its writes. */
  closed: boolean;
  /** Our checkpointer, which stores a node's transcript with its writes; null: the node stores it itself. */
  unit: DbCheckpointSaver | null;
}

// Prompts are files plus a schema hash: read them once per loaded agents config, not per proposal.
const promptCache = new WeakMap<Config['agents'], Readonly<Record<RoleName, RolePrompt>>>();
function cachedPrompts(agents: Config['agents']): Readonly<Record<RoleName, RolePrompt>> {
  let prompts = promptCache.get(agents);
  if (!prompts) {
    prompts = loadRolePrompts(agents);
    promptCache.set(agents, prompts);
  }
  return prompts;
}

const shortHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 20);

/** The deterministic verdict id of a run (a resumed run reuses it, so it is stored once). */
export function verdictIdOf(runId: string): string {
  return `vd_${shortHash(runId)}`;
}

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

/** The evidence limits of one prompt (settings.committee). */
function evidenceLimits(config: Config): EvidenceLimits {
  const c = config.settings.committee;
  return { maxNewsItems: c.maxNewsItemsPerPrompt, maxChars: c.maxEvidenceCharsPerPrompt };
}

/** The tool-turn prompt, read once. */
let toolTurnPrompt: ToolTurnPrompt | undefined;

/** What a node's tools cost and gave: the outcomes, the record of the calls, the tool turn if any, and their rows to store. */
interface GatheredTools {
  outcomes: ToolOutcome[];
  record: NodeTools | null;
  turn: ToolTurnResult | null;
  rows: NodeRecord;
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('committee run aborted');
}

/**
 * A node's tool calls. With `toolTurn` (agents.yaml) the agent chooses them in a tool-request turn
 * (the rules baseline answers the defaults); otherwise, or when the turn fails, the role's
 * `defaultTools` are called with their default arguments. Every call goes through the registry
 * with the role's allowed list: an unknown tool, a tool not allowed to the role, bad arguments or a
 * call over maxToolCallsPerAgent becomes a typed tool error the agent sees, never an exception.
 * The as-of time comes from the proposal, never from the agent (no tool takes it as an argument).
 */
async function gatherTools(deps: Deps, node: CommitteeNode, role: RoleName, state: CommitteeStateValue, round: number, deadline: number): Promise<GatheredTools> {
  const settings = deps.config.settings;
  const agent = deps.config.agents[role];
  const max = settings.committee.maxToolCallsPerAgent;
  const defaults: RequestedToolCall[] = (agent.defaultTools ?? agent.tools).slice(0, max).map((name) => ({ name, args: defaultArgs(name, deps.proposal) }));
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
      backend: deps.backend === 'rules' ? createRulesBackend({ proposal: deps.proposal, outcomes: state.outcomes }) : deps.backend,
      prompt: toolTurnPrompt,
      proposal: deps.proposal,
      tools: toolSpecs(deps.tools.describe(agent.tools)),
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
  const requested = turn ? turn.requested : defaults;
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
    signal: deps.runSignal,
    readBars: deps.readBars,
    // Stored with the node's transcript when the node finishes (storeNodeRows).
    record: (rows) => callRows.push(rows),
  };
  const outcomes: ToolOutcome[] = [];
  const calls: NodeToolCall[] = [];
  const note = (o: ToolOutcome, args: unknown): void => {
    outcomes.push(o);
    calls.push({ callId: o.callId, evidenceId: o.evidenceId, tool: o.tool, args: boundedArgs(args, MAX_RECORDED_ARGS_CHARS), ok: o.ok, errorCode: o.ok ? null : o.error.code });
  };
  for (const call of requested) {
    if (performance.now() >= deadline || deps.runSignal?.aborted) break;
    note(await deps.tools.call(ctx, call.name, call.args, { allowed: agent.tools }), call.args);
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
  deps: Deps,
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
  const rules = deps.backend === 'rules';
  // The rules critic judges on the tool data of the same bounded evidence an LLM is shown.
  const backend = deps.backend === 'rules' ? createRulesBackend({ proposal: deps.proposal, outcomes: evidence.outcomes }) : deps.backend;
  const prompt = rules || !deps.prompts ? rulesPrompt(role) : deps.prompts[role];
  const remaining = Math.max(1, Math.ceil(Math.min(deps.config.models.llm.timeoutMs, deadline - performance.now())));
  const result = await runAgent({
    role,
    backend,
    prompt,
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
  const latencyMs = performance.now() - started;
  const turn = gathered.turn;
  const turnCalls = rules || !turn ? 0 : turn.llmCalls;
  const stat: NodeStat = {
    node,
    round,
    llmCalls: (rules ? 0 : result.calls) + turnCalls,
    toolCalls: newOutcomes.length,
    toolTurnCalls: turnCalls,
    toolErrors: newOutcomes.filter((o) => !o.ok).length,
    evidenceItems: evidence.items.length,
    evidenceChars: evidence.chars,
    evidenceDropped: evidence.dropped.length,
    promptTokens: result.tokens.prompt + (turn?.tokens.prompt ?? 0),
    completionTokens: result.tokens.completion + (turn?.tokens.completion ?? 0),
    latencyMs,
    timedOut: result.abstainCode === 'LLM_TIMEOUT' || latencyMs >= budget,
    abstained: result.abstainReason !== null,
  };
  return { result, newOutcomes, tools: gathered.record ? [gathered.record] : [], stat, rows: gathered.rows };
}

/**
 * Stores a finished node's rows (tool turn, conversation, tool calls). With our checkpointer they
 * go into the statement that stores the node's writes (one unit: a crash cannot keep one without
 * the other, so a resumed run never stores a node's messages twice), with `finish` if given, and
 * it returns true when `finish` went with them; otherwise they are stored in one statement now.
 */
async function storeNodeRows(deps: Deps, config: LangGraphRunnableConfig, rows: NodeRecord, finish?: RunFinish): Promise<boolean> {
  const threadId = config.configurable?.thread_id;
  const taskId = config.configurable?.[TASK_ID_KEY];
  if (deps.unit && typeof threadId === 'string' && typeof taskId === 'string') {
    const record = finish ? { ...rows, finish } : rows;
    deps.unit.attachToTask(threadId, taskId, (params) => nodeRecordInserts(record, params));
    return finish !== undefined;
  }
  await storeNodeRecord(deps.db, rows);
  return false;
}

/**
 * An outcome as the state (and so every later checkpoint) keeps it. Evidence reads `text` only of
 * successful calls other than news_search (graph/evidence.ts builds news hits and errors from their
 * data), and tool_calls stored the hash and size of the full text already: for the others the text
 * is dropped, which cuts each checkpoint by the news result's bounded JSON (up to maxToolResultChars).
 */
const stateOutcome = (o: ToolOutcome): ToolOutcome => (!o.ok || o.tool === 'news_search' ? { ...o, text: '' } : o);

async function opinionNode(deps: Deps, node: CommitteeNode, role: AgentRole, state: CommitteeStateValue, round: number, config: LangGraphRunnableConfig) {
  if (!deps.config.agents[role].enabled) return {};
  const { result, newOutcomes, tools, stat, rows } = await agentNode(deps, node, role, state, round);
  if (result.role === 'committee') throw new QuorumError('INTERNAL', `node ${node} produced a committee result`);
  rows.messages.push(...nodeTranscriptRows({ runId: deps.runId, node, round, result, output: result.opinion }));
  await storeNodeRows(deps, config, rows);
  deps.emit({ type: 'node_finished', runId: deps.runId, node, round, opinion: result.opinion, verdict: null, stat });
  return { outcomes: newOutcomes.map(stateOutcome), opinions: [result.opinion], nodeStats: [stat], toolCalls: tools };
}

/** The ABSTAIN verdict of a disabled committee (agents.yaml committee.enabled: false). */
function disabledVerdict(deps: Deps): Verdict {
  return {
    id: verdictIdOf(deps.runId),
    proposalId: deps.proposal.id,
    decision: 'ABSTAIN',
    sizeMultiplier: 0,
    confidence: 0,
    reasons: [],
    dissent: [],
    backend: deps.backend === 'rules' ? RULES_BACKEND : deps.backend.name,
    model: 'none',
    promptVersion: 'none',
    tokens: { prompt: 0, completion: 0 },
    abstainReason: 'the committee role is disabled in agents.yaml',
    createdAt: deps.now().toISOString(),
  };
}

/** What a node reads from its run: LangGraph hands it over as the run's context (config.context). */
interface RunContext {
  deps?: Deps;
}
type NodeConfig = LangGraphRunnableConfig<RunContext>;
type NodeUpdate = Partial<CommitteeStateValue>;

function depsOf(config: NodeConfig): Deps {
  const deps = config.context?.deps;
  if (!deps) throw new QuorumError('INTERNAL', 'a committee node ran without its run context');
  return deps;
}

/** A committee node: called directly (graph/node.ts), with the run's deps from its context. */
const node = (name: string, fn: (deps: Deps, s: CommitteeStateValue, config: NodeConfig) => Promise<NodeUpdate>) =>
  directNode<CommitteeStateValue, NodeUpdate>(name, (s, config) => fn(depsOf(config), s, config));

/**
 * Builds and compiles the graph for `config`: its shape depends only on debateRounds, and a run's
 * own deps reach the nodes through the run's context, so one compiled graph serves every run.
 */
function buildGraph(config: Config, checkpointer: BaseCheckpointSaver) {
  const rounds = config.settings.committee.debateRounds;
  const afterDebate = (s: CommitteeStateValue): Array<'bull' | 'bear'> | 'risk' => (s.round < rounds ? ['bull', 'bear'] : 'risk');
  // With one round (the default) bull and bear count the round themselves (both write the same
  // number; `round` keeps the last) and join straight into risk: one step and one checkpoint
  // fewer than a separate round_done node, with the same state after the round.
  const single = rounds === 1;
  const debater = (role: 'bull' | 'bear') =>
    node(role, async (deps, s, c) => {
      const update = await opinionNode(deps, role, role, s, s.round + 1, c);
      return single ? { ...update, round: s.round + 1 } : update;
    });
  const graph = new StateGraph(CommitteeState)
    .addNode('analyst', node('analyst', (deps, s, c) => opinionNode(deps, 'analyst', 'analyst', s, 0, c)))
    .addNode('bull', debater('bull'))
    .addNode('bear', debater('bear'))
    .addNode('risk', node('risk', (deps, s, c) => opinionNode(deps, 'risk', 'risk', s, s.round, c)))
    .addNode(
      'committee',
      node('committee', async (deps, s, c) => {
        if (!deps.config.agents.committee.enabled) return { verdict: disabledVerdict(deps) };
        const { result, newOutcomes, tools, stat, rows } = await agentNode(deps, 'committee', 'committee', s, s.round);
        if (result.role !== 'committee') throw new QuorumError('INTERNAL', 'committee node produced an opinion');
        rows.messages.push(...nodeTranscriptRows({ runId: deps.runId, node: 'committee', round: s.round, result, output: result.verdict }));
        // With our checkpointer the verdict and the closed run go into the statement of this node's
        // writes (nothing can store one without the other); runCommittee then has nothing to close.
        const finish = { runId: deps.runId, verdict: result.verdict, stats: totalStats([...s.nodeStats, stat]) };
        deps.closed = await storeNodeRows(deps, c, rows, finish);
        deps.emit({ type: 'node_finished', runId: deps.runId, node: 'committee', round: s.round, opinion: null, verdict: result.verdict, stat });
        return { verdict: result.verdict, nodeStats: [stat], outcomes: newOutcomes.map(stateOutcome), toolCalls: tools };
      }),
    )
    .addEdge(START, 'analyst')
    .addEdge('risk', 'committee')
    .addEdge('committee', END);
  if (single) return graph.addConditionalEdges('analyst', afterDebate, ['bull', 'bear', 'risk']).addEdge(['bull', 'bear'], 'risk').compile({ checkpointer });
  return graph
    .addNode('round_done', (s: CommitteeStateValue) => ({ round: s.round + 1 }))
    .addConditionalEdges('analyst', afterDebate, ['bull', 'bear', 'risk'])
    .addEdge(['bull', 'bear'], 'round_done')
    .addConditionalEdges('round_done', afterDebate, ['bull', 'bear', 'risk'])
    .compile({ checkpointer });
}

type CommitteeGraph = ReturnType<typeof buildGraph>;
const compiled = new WeakMap<Config, WeakMap<BaseCheckpointSaver, CommitteeGraph>>();

/** The compiled graph for `config` and `checkpointer`, built on first use. */
function committeeGraph(config: Config, checkpointer: BaseCheckpointSaver): CommitteeGraph {
  let byCheckpointer = compiled.get(config);
  if (!byCheckpointer) {
    byCheckpointer = new WeakMap();
    compiled.set(config, byCheckpointer);
  }
  let graph = byCheckpointer.get(checkpointer);
  if (!graph) {
    graph = buildGraph(config, checkpointer);
    byCheckpointer.set(checkpointer, graph);
  }
  return graph;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return Boolean(signal?.aborted) || (error instanceof Error && (error.name === 'AbortError' || /abort/i.test(error.message)));
}

/**
 * Runs (or resumes) the committee on one proposal and stores the whole transcript.
 * With `threadId` of an unfinished run, it resumes from the last checkpoint: finished nodes are not
 * called again. With the thread id of a finished run, it returns the stored verdict.
 */
export async function runCommittee(options: RunCommitteeOptions): Promise<CommitteeResult> {
  const { db, config, proposal, backend } = options;
  const backendName = backend === 'rules' ? RULES_BACKEND : backend.name;
  // A thread id we make up here is new: no run and no checkpoint can exist for it, so the lookups
  // a resume needs (the run row, the graph's state) are skipped.
  const fresh = options.threadId === undefined;
  const threadId = options.threadId ?? `committee-${proposal.id}-${randomUUID()}`;
  const existing = fresh ? null : await findRunByThread(db, threadId);
  if (existing && existing.proposal_id !== proposal.id) {
    throw new QuorumError('CONFLICT', `thread ${threadId} belongs to proposal ${existing.proposal_id}, not ${proposal.id}`, { threadId });
  }
  const runId = existing?.id ?? `cr_${shortHash(threadId)}`;
  const checkpointer = options.checkpointer ?? (await sharedCheckpointer(db, { databaseUrl: options.databaseUrl ?? config.secrets.databaseUrl }));
  const emit = (event: CommitteeEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // A listener's failure (e.g. a closed SSE stream) must not fail the run.
    }
  };
  const deps: Deps = {
    db,
    config,
    proposal,
    backend,
    runId,
    prompts: backend === 'rules' ? null : (options.prompts ?? cachedPrompts(config.agents)),
    tools: options.tools ?? defaultToolRegistry(),
    searchNews: options.searchNews,
    runSignal: options.signal,
    emit,
    now: options.now ?? (() => new Date()),
    unit: checkpointer instanceof DbCheckpointSaver ? checkpointer : null,
    closed: false,
    readBars: cachedBarsReader(db, proposal.asOf, INDICATOR_LOOKBACK_BARS),
  };
  const graph = committeeGraph(config, checkpointer);
  // durability 'sync': a step's checkpoint is stored before the next step starts, so a run killed
  // in any step resumes after the last finished one (with 'async' a kill could lose it in flight).
  const runConfig = { configurable: { thread_id: threadId }, context: { deps }, signal: options.signal, recursionLimit: 64, durability: 'sync' as const };
  let hasCheckpoint = false;
  if (!fresh) {
    const snapshot = await graph.getState(runConfig);
    hasCheckpoint = snapshot.config.configurable?.checkpoint_id !== undefined && Object.keys(snapshot.values).length > 0;
    const values = snapshot.values as CommitteeStateValue;
    if (hasCheckpoint && snapshot.next.length === 0 && values.verdict !== null) {
      return { verdict: values.verdict, runId, threadId, backend: backendName, resumed: true, opinions: values.opinions, toolCalls: values.toolCalls, stats: totalStats(values.nodeStats) };
    }
  }
  await startRun(db, { runId, threadId, proposalId: proposal.id, backend: backendName, sessionId: options.sessionId ?? null });
  emit({ type: 'run_started', runId, threadId, backend: backendName, resumed: hasCheckpoint });
  let final: CommitteeStateValue;
  if (fresh) deps.unit?.newThread(threadId);
  try {
    // null input = continue from the checkpoint; an input would start the graph over.
    final = (await graph.invoke(hasCheckpoint ? null : { round: 0 }, runConfig)) as CommitteeStateValue;
  } catch (error) {
    const aborted = isAbort(error, options.signal);
    await failRun(db, runId, aborted ? 'interrupted' : 'failed', errorMessage(error));
    throw error;
  } finally {
    // Rows of nodes whose writes were never handed over (those nodes run again on resume), and
    // the new-thread mark if the graph never read it.
    deps.unit?.endRun(threadId);
  }
  if (!final.verdict) throw new QuorumError('INTERNAL', 'the committee graph ended without a verdict');
  const stats = totalStats(final.nodeStats);
  // A resumed run whose committee node had finished before did not close the run in this invocation.
  if (!deps.closed) await finishRun(db, { runId, verdict: final.verdict, stats });
  emit({ type: 'run_finished', runId, verdict: final.verdict });
  return { verdict: final.verdict, runId, threadId, backend: backendName, resumed: hasCheckpoint, opinions: final.opinions, toolCalls: final.toolCalls, stats };
}

