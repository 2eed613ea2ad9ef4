/**
 * One committee run as a LangGraph StateGraph:
 *
 *   analyst (tools) ─► bull ∥ bear ─► round_done ─(round < N)─► bull ∥ bear …
 *                                        └─(round = N)─► risk (tools) ─► committee ─► Verdict
 *
 * With N = 1 (the default) bull ∥ bear join straight into risk (no round_done step).
 *
 * This module is the wiring: the graph's shape, its compilation, and a run's start, resume and end.
 * The nodes are in graph/nodes.ts (tools: gather-tools.ts, stats: node-stats.ts, where their rows
 * go: storage.ts); what differs between an LLM and the rules baseline is behind graph/backend.ts.
 *
 * Each node has a time budget (settings.committee.nodeTimeoutMs): a late agent abstains (a late
 * committee gives an ABSTAIN verdict). A checkpointer on the database lets an interrupted run
 * resume with the same thread id without calling finished nodes again. Everything is stored.
 */
import { randomUUID } from 'node:crypto';
import { END, START, StateGraph, type BaseCheckpointSaver, type LangGraphRunnableConfig } from '@langchain/langgraph';
import { QuorumError, errorMessage, type AgentOpinion, type Proposal, type Verdict } from '../contracts/index.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { DbCheckpointSaver, sharedCheckpointer } from '../checkpoint/index.ts';
import { loadRolePrompts, type RoleName, type RolePrompt } from '../agents/index.ts';
import { cachedBarsReader, defaultToolRegistry, INDICATOR_LOOKBACK_BARS, type NewsSearcher, type OutcomeSearcher, type ToolRegistry } from '../tools/index.ts';
import { judgeOf, type CommitteeBackend } from './backend.ts';
import { directNode } from './node.ts';
import { committeeNode, opinionNode } from './nodes.ts';
import { shortHash, type RunDeps } from './run-deps.ts';
import { CommitteeState, totalStats, type CommitteeEvent, type CommitteeStateValue, type CommitteeStats, type NodeTools } from './state.ts';
import { failRun, findRunByThread, finishRun, startRun } from './transcript.ts';

export { verdictIdOf } from './run-deps.ts';
export { DEFAULT_ANALYST_BARS, DEFAULT_ANALYST_NEWS_K } from './gather-tools.ts';
export type { CommitteeBackend } from './backend.ts';

export interface RunCommitteeOptions {
  db: Db;
  config: Config;
  /** The proposal to judge; it must be stored in `proposals`. */
  proposal: Proposal;
  backend: CommitteeBackend;
  /** Point-in-time news search (rag's searchNews bound to an embedder); without it news_search fails as a typed tool error. */
  searchNews?: NewsSearcher;
  /**
   * Outcome memory (ADR 0035): point-in-time search of past outcomes. When given, the analyst also
   * calls past_outcomes (its hits are evidence, cited `outcome:<id>`); without it nothing changes.
   */
  searchOutcomes?: OutcomeSearcher;
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
  /** Role prompts of an LLM backend (default: loaded from agents.yaml); the rules baseline has its own. */
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

/** What a node reads from its run: LangGraph hands it over as the run's context (config.context). */
interface RunContext {
  deps?: RunDeps;
}
type NodeConfig = LangGraphRunnableConfig<RunContext>;
type NodeUpdate = Partial<CommitteeStateValue>;

function depsOf(config: NodeConfig): RunDeps {
  const deps = config.context?.deps;
  if (!deps) throw new QuorumError('INTERNAL', 'a committee node ran without its run context');
  return deps;
}

/** A committee node: called directly (graph/node.ts), with the run's deps from its context. */
const node = (name: string, fn: (deps: RunDeps, s: CommitteeStateValue, config: NodeConfig) => Promise<NodeUpdate>) =>
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
    .addNode(
      'analyst',
      node('analyst', (deps, s, c) => opinionNode(deps, 'analyst', 'analyst', s, 0, c)),
    )
    .addNode('bull', debater('bull'))
    .addNode('bear', debater('bear'))
    .addNode(
      'risk',
      node('risk', (deps, s, c) => opinionNode(deps, 'risk', 'risk', s, s.round, c)),
    )
    .addNode('committee', node('committee', committeeNode))
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
  const { db, config, proposal } = options;
  const judge = judgeOf(options.backend);
  const backendName = judge.name;
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
  const deps: RunDeps = {
    db,
    config,
    proposal,
    judge,
    runId,
    prompts: judge.usesLlm ? (options.prompts ?? cachedPrompts(config.agents)) : null,
    tools: options.tools ?? defaultToolRegistry(),
    searchNews: options.searchNews,
    searchOutcomes: options.searchOutcomes,
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
      return {
        verdict: values.verdict,
        runId,
        threadId,
        backend: backendName,
        resumed: true,
        opinions: values.opinions,
        toolCalls: values.toolCalls,
        stats: totalStats(values.nodeStats),
      };
    }
  }
  await startRun(db, { runId, threadId, proposalId: proposal.id, backend: backendName, sessionId: options.sessionId ?? null });
  emit({ type: 'run_started', runId, threadId, backend: backendName, resumed: hasCheckpoint });
  let final: CommitteeStateValue;
  if (fresh) deps.unit?.newThread(threadId);
  try {
    // null input = continue from the checkpoint; an input would start the graph over.
    final = (await graph.invoke(hasCheckpoint ? null : { round: 0 }, runConfig)) as CommitteeStateValue;
    // Every node that finished handed its rows over with its writes; rows left here were never stored.
    const unclaimed = deps.unit?.stagedCount(threadId) ?? 0;
    if (unclaimed > 0)
      throw new QuorumError('INTERNAL', `committee run ${runId}: ${unclaimed} node record(s) matched no checkpoint writes (graph/storage.ts writesOfNode)`, {
        threadId,
      });
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
