/**
 * One committee run as a LangGraph StateGraph:
 *
 *   analyst (tools) ─► bull ∥ bear ─► round_done ─(round < N)─► bull ∥ bear …
 *                                        └─(round = N)─► risk (tools) ─► committee ─► Verdict
 *
 * Each node has a time budget (settings.committee.nodeTimeoutMs): a late agent abstains (a late
 * committee gives an ABSTAIN verdict). A checkpointer on the database lets an interrupted run
 * resume with the same thread id without calling finished nodes again. Everything is stored.
 */
import { createHash, randomUUID } from 'node:crypto';
import { END, START, StateGraph, type BaseCheckpointSaver } from '@langchain/langgraph';
import { QuorumError, errorMessage, type AgentOpinion, type AgentRole, type Proposal, type Verdict } from '../contracts/index.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import {
  createRulesBackend,
  loadRolePrompts,
  rulesPrompt,
  runAgent,
  RULES_BACKEND,
  type AgentRunResult,
  type ChatBackend,
  type EvidenceItemInput,
  type RoleName,
  type RolePrompt,
} from '../agents/index.ts';
import { defaultToolRegistry, type NewsSearcher, type ToolOutcome, type ToolRegistry } from '../tools/index.ts';
import { sharedCheckpointer } from './checkpointer.ts';
import { CommitteeState, totalStats, type CommitteeEvent, type CommitteeNode, type CommitteeStateValue, type CommitteeStats, type NodeStat } from './state.ts';
import { failRun, findRunByThread, finishRun, startRun, storeNodeTranscript } from './transcript.ts';

/** Who judges: an LLM backend, or the deterministic rules baseline. */
export type CommitteeBackend = ChatBackend | 'rules';

/** Bars the analyst's `bars` call asks for by default (the indicators already summarise more). */
export const DEFAULT_ANALYST_BARS = 5;
/** News items the analyst's search asks for by default. */
export const DEFAULT_ANALYST_NEWS_K = 3;

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

/** The default arguments each tool is called with when a node gathers its evidence. */
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

/**
 * Tools whose results only the agent that called them reads: raw bars are summarised by the
 * indicators, and the explanation repeats the proposal block's attributions. Leaving them out of
 * later prompts keeps the default committee within its prompt-token budget.
 */
export const CALLER_ONLY_TOOLS: ReadonlySet<string> = new Set(['bars', 'explain_proposal']);

/** Evidence blocks from tool outcomes: one per news hit, one per other result or error. */
export function evidenceOf(outcomes: readonly ToolOutcome[], agent?: string): EvidenceItemInput[] {
  const items = new Map<string, EvidenceItemInput>();
  for (const o of outcomes) {
    if (agent !== undefined && o.agent !== agent && CALLER_ONLY_TOOLS.has(o.tool)) continue;
    if (!o.ok) {
      items.set(o.evidenceId, { id: o.evidenceId, kind: 'tool-error', title: o.tool.slice(0, 100), text: o.text });
    } else if (o.tool === 'news_search') {
      if (o.data.hits.length === 0) items.set(o.evidenceId, { id: o.evidenceId, kind: 'tool', title: 'news_search', text: `no news found for "${o.data.query}" up to ${o.data.asOf}` });
      for (const h of o.data.hits) {
        items.set(h.evidenceId, {
          id: h.evidenceId,
          kind: 'news',
          title: h.title,
          text: `${h.snippet}\n(${h.source}; tickers ${h.tickers.join(',') || 'none'}; sentiment ${h.sentiment?.toFixed(2) ?? 'n/a'})`,
          at: h.publishedAt,
        });
      }
    } else {
      items.set(o.evidenceId, { id: o.evidenceId, kind: 'tool', title: o.tool, text: o.text });
    }
  }
  return [...items.values()];
}

/** Runs a node's configured tools (agents.yaml) with default arguments, bounded by maxToolCallsPerAgent. */
async function gatherTools(deps: Deps, role: RoleName, deadline: number): Promise<ToolOutcome[]> {
  const settings = deps.config.settings;
  const names = deps.config.agents[role].tools.slice(0, settings.committee.maxToolCallsPerAgent);
  const outcomes: ToolOutcome[] = [];
  for (const name of names) {
    if (performance.now() >= deadline || deps.runSignal?.aborted) break;
    outcomes.push(
      await deps.tools.call(
        {
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
        },
        name,
        defaultArgs(name, deps.proposal),
      ),
    );
  }
  return outcomes;
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

/** One agent node: tools, then the agent (LLM or rules) within the node's time budget. */
async function agentNode(deps: Deps, node: CommitteeNode, role: RoleName, state: CommitteeStateValue, round: number): Promise<{ result: AgentRunResult; newOutcomes: ToolOutcome[]; stat: NodeStat }> {
  const started = performance.now();
  const budget = deps.config.settings.committee.nodeTimeoutMs;
  const deadline = started + budget;
  const newOutcomes = await gatherTools(deps, role, deadline);
  const outcomes = [...state.outcomes, ...newOutcomes];
  const rules = deps.backend === 'rules';
  const backend = deps.backend === 'rules' ? createRulesBackend({ proposal: deps.proposal, outcomes }) : deps.backend;
  const prompt = rules || !deps.prompts ? rulesPrompt(role) : deps.prompts[role];
  const remaining = Math.max(1, Math.ceil(Math.min(deps.config.models.llm.timeoutMs, deadline - performance.now())));
  const result = await runAgent({
    role,
    backend,
    prompt,
    proposal: deps.proposal,
    evidence: evidenceOf(outcomes, role),
    opinions: visibleOpinions(state, role, round),
    round,
    signal: deps.runSignal,
    timeoutMs: remaining,
    maxOutputTokens: deps.config.agents[role].maxOutputTokens ?? deps.config.models.llm.maxOutputTokens,
    verdictId: verdictIdOf(deps.runId),
    now: deps.now,
  });
  // A killed run must not checkpoint an ABSTAIN it produced only because it was killed.
  if (deps.runSignal?.aborted) throw deps.runSignal.reason instanceof Error ? deps.runSignal.reason : new Error('committee run aborted');
  const latencyMs = performance.now() - started;
  const stat: NodeStat = {
    node,
    round,
    llmCalls: rules ? 0 : result.calls,
    toolCalls: newOutcomes.length,
    promptTokens: result.tokens.prompt,
    completionTokens: result.tokens.completion,
    latencyMs,
    timedOut: result.abstainCode === 'LLM_TIMEOUT' || latencyMs >= budget,
    abstained: result.abstainReason !== null,
  };
  return { result, newOutcomes, stat };
}

async function opinionNode(deps: Deps, node: CommitteeNode, role: AgentRole, state: CommitteeStateValue, round: number) {
  if (!deps.config.agents[role].enabled) return {};
  const { result, newOutcomes, stat } = await agentNode(deps, node, role, state, round);
  if (result.role === 'committee') throw new QuorumError('INTERNAL', `node ${node} produced a committee result`);
  await storeNodeTranscript(deps.db, { runId: deps.runId, node, round, result, output: result.opinion });
  deps.emit({ type: 'node_finished', runId: deps.runId, node, round, opinion: result.opinion, verdict: null, stat });
  return { outcomes: newOutcomes, opinions: [result.opinion], nodeStats: [stat] };
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

/** Builds and compiles the graph of one run. */
function buildGraph(deps: Deps, checkpointer: BaseCheckpointSaver) {
  const rounds = deps.config.settings.committee.debateRounds;
  const afterDebate = (s: CommitteeStateValue): Array<'bull' | 'bear'> | 'risk' => (s.round < rounds ? ['bull', 'bear'] : 'risk');
  return new StateGraph(CommitteeState)
    .addNode('analyst', (s: CommitteeStateValue) => opinionNode(deps, 'analyst', 'analyst', s, 0))
    .addNode('bull', (s: CommitteeStateValue) => opinionNode(deps, 'bull', 'bull', s, s.round + 1))
    .addNode('bear', (s: CommitteeStateValue) => opinionNode(deps, 'bear', 'bear', s, s.round + 1))
    .addNode('round_done', (s: CommitteeStateValue) => ({ round: s.round + 1 }))
    .addNode('risk', (s: CommitteeStateValue) => opinionNode(deps, 'risk', 'risk', s, s.round))
    .addNode('committee', async (s: CommitteeStateValue) => {
      if (!deps.config.agents.committee.enabled) return { verdict: disabledVerdict(deps) };
      const { result, stat } = await agentNode(deps, 'committee', 'committee', s, s.round);
      if (result.role !== 'committee') throw new QuorumError('INTERNAL', 'committee node produced an opinion');
      await storeNodeTranscript(deps.db, { runId: deps.runId, node: 'committee', round: s.round, result, output: result.verdict });
      deps.emit({ type: 'node_finished', runId: deps.runId, node: 'committee', round: s.round, opinion: null, verdict: result.verdict, stat });
      return { verdict: result.verdict, nodeStats: [stat] };
    })
    .addEdge(START, 'analyst')
    .addConditionalEdges('analyst', afterDebate, ['bull', 'bear', 'risk'])
    .addEdge(['bull', 'bear'], 'round_done')
    .addConditionalEdges('round_done', afterDebate, ['bull', 'bear', 'risk'])
    .addEdge('risk', 'committee')
    .addEdge('committee', END)
    .compile({ checkpointer });
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
  };
  const graph = buildGraph(deps, checkpointer);
  // durability 'sync': a step's checkpoint is stored before the next step starts, so a run killed
  // in any step resumes after the last finished one (with 'async' a kill could lose it in flight).
  const runConfig = { configurable: { thread_id: threadId }, signal: options.signal, recursionLimit: 64, durability: 'sync' as const };
  let hasCheckpoint = false;
  if (!fresh) {
    const snapshot = await graph.getState(runConfig);
    hasCheckpoint = snapshot.config.configurable?.checkpoint_id !== undefined && Object.keys(snapshot.values).length > 0;
    const values = snapshot.values as CommitteeStateValue;
    if (hasCheckpoint && snapshot.next.length === 0 && values.verdict !== null) {
      return { verdict: values.verdict, runId, threadId, backend: backendName, resumed: true, opinions: values.opinions, stats: totalStats(values.nodeStats) };
    }
  }
  await startRun(db, { runId, threadId, proposalId: proposal.id, backend: backendName, sessionId: options.sessionId ?? null });
  emit({ type: 'run_started', runId, threadId, backend: backendName, resumed: hasCheckpoint });
  let final: CommitteeStateValue;
  try {
    // null input = continue from the checkpoint; an input would start the graph over.
    final = (await graph.invoke(hasCheckpoint ? null : { round: 0 }, runConfig)) as CommitteeStateValue;
  } catch (error) {
    const aborted = isAbort(error, options.signal);
    await failRun(db, runId, aborted ? 'interrupted' : 'failed', errorMessage(error));
    throw error;
  }
  if (!final.verdict) throw new QuorumError('INTERNAL', 'the committee graph ended without a verdict');
  const stats = totalStats(final.nodeStats);
  await finishRun(db, { runId, verdict: final.verdict, stats });
  emit({ type: 'run_finished', runId, verdict: final.verdict });
  return { verdict: final.verdict, runId, threadId, backend: backendName, resumed: hasCheckpoint, opinions: final.opinions, stats };
}

