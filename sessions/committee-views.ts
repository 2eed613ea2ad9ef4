import { z } from 'zod';
import { Proposal, Verdict } from '../contracts/index.ts';
import { JsonColumn, NullableTimestampColumn, TimestampColumn, queryRow, queryRows, type Queryable } from '../db/index.ts';
import { CommitteeStats } from '../graph/index.ts';

/**
 * Read models of a committee run: graph/'s tables (committee_runs, agent_messages, verdicts) and the
 * run's tool calls and retrievals (written by tools/ during the run). They live here rather than in
 * graph/ so that graph/ stays the committee itself; each row has a zod schema, which the API publishes.
 */

export const CommitteeRunRow = z.object({
  id: z.string(),
  session_id: z.string().nullable(),
  proposal_id: z.string(),
  thread_id: z.string(),
  backend: z.string(),
  status: z.enum(['running', 'completed', 'failed', 'interrupted']),
  stats: JsonColumn,
  error: z.string().nullable(),
  started_at: TimestampColumn,
  finished_at: NullableTimestampColumn,
});
export type CommitteeRunRow = z.infer<typeof CommitteeRunRow>;

export const AgentMessageRow = z.object({
  node: z.string(),
  agent: z.string(),
  round: z.number().int(),
  message_role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  prompt_version: z.string().nullable(),
  tokens_prompt: z.number().int().nullable(),
  tokens_completion: z.number().int().nullable(),
  latency_ms: z.number().nullable(),
  created_at: TimestampColumn,
});
export type AgentMessageRow = z.infer<typeof AgentMessageRow>;

export const ToolCallRow = z.object({
  id: z.string(),
  run_id: z.string(),
  agent: z.string(),
  tool: z.string(),
  args: JsonColumn,
  ok: z.boolean(),
  error_code: z.string().nullable(),
  result_digest: z.string().nullable(),
  result_chars: z.number().int().nullable(),
  latency_ms: z.number(),
  created_at: TimestampColumn,
});
export type ToolCallRow = z.infer<typeof ToolCallRow>;

/** A news item given to the committee, with where it ranked. */
export const RetrievalRow = z.object({
  rank: z.number().int(),
  score: z.number(),
  query: z.string(),
  as_of: TimestampColumn,
  ticker: z.string().nullable(),
  news_id: z.string(),
  title: z.string(),
  published_at: TimestampColumn,
  source: z.string(),
  url: z.string().nullable(),
});
export type RetrievalRow = z.infer<typeof RetrievalRow>;

/** A past outcome a run's past_outcomes call returned (ADR 0035): what an `outcome:<id>` citation resolves to. */
export const OutcomeRetrievalRow = z.object({
  rank: z.number().int(),
  score: z.number(),
  tool_call_id: z.string().nullable(),
  as_of: TimestampColumn,
  outcome_id: z.string(),
  ticker: z.string(),
  decision: z.string(),
  known_at: TimestampColumn,
  summary: z.string(),
});
export type OutcomeRetrievalRow = z.infer<typeof OutcomeRetrievalRow>;

export const VerdictSummary = z.object({
  id: z.string(),
  proposal_id: z.string(),
  decision: z.enum(['APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN']),
  size_multiplier: z.number(),
  confidence: z.number(),
  backend: z.string(),
  model: z.string(),
  prompt_version: z.string(),
});
export type VerdictSummary = z.infer<typeof VerdictSummary>;

export const VerdictRow = VerdictSummary.extend({
  run_id: z.string().nullable(),
  tokens_prompt: z.number().int(),
  tokens_completion: z.number().int(),
  /** The Verdict contract as it was stored. */
  payload: JsonColumn,
  created_at: TimestampColumn,
});
export type VerdictRow = z.infer<typeof VerdictRow>;

/** A critique (one committee run): its status, proposal, verdict and transcript. */
export const CritiqueView = z.object({
  id: z.string(),
  status: CommitteeRunRow.shape.status,
  backend: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  /** CommitteeStats once the run finished; `{}` while it runs. */
  stats: z.union([CommitteeStats, z.object({}).strict()]),
  proposal: Proposal.nullable(),
  verdict: Verdict.nullable(),
  messages: z.array(AgentMessageRow),
  toolCalls: z.array(ToolCallRow),
});
export type CritiqueView = z.infer<typeof CritiqueView>;

const MESSAGE_COLUMNS = 'node, agent, round, message_role, content, prompt_version, tokens_prompt, tokens_completion, latency_ms, created_at';
const PayloadRow = z.object({ payload: z.unknown() });

/** A stored verdict (the validated contract), or null. */
export async function readVerdict(q: Queryable, id: string): Promise<Verdict | null> {
  const row = await queryRow(q, PayloadRow, 'SELECT payload FROM verdicts WHERE id = $1', [id]);
  return row ? Verdict.parse(row.payload) : null;
}

export function readVerdictRow(q: Queryable, id: string): Promise<VerdictRow | null> {
  return queryRow(
    q,
    VerdictRow,
    'SELECT id, run_id, proposal_id, decision, size_multiplier, confidence, backend, model, prompt_version, tokens_prompt, tokens_completion, payload, created_at FROM verdicts WHERE id = $1',
    [id],
  );
}

/** The verdicts on a session's proposals. */
export function readSessionVerdicts(q: Queryable, sessionId: string): Promise<VerdictSummary[]> {
  return queryRows(
    q,
    VerdictSummary,
    `SELECT v.id, v.proposal_id, v.decision, v.size_multiplier, v.confidence, v.backend, v.model, v.prompt_version
       FROM verdicts v JOIN proposals p ON p.id = v.proposal_id WHERE p.session_id = $1`,
    [sessionId],
  );
}

export function readCommitteeRun(q: Queryable, id: string): Promise<CommitteeRunRow | null> {
  return queryRow(
    q,
    CommitteeRunRow,
    'SELECT id, session_id, proposal_id, thread_id, backend, status, stats, error, started_at, finished_at FROM committee_runs WHERE id = $1',
    [id],
  );
}

export function readRunMessages(q: Queryable, runId: string): Promise<AgentMessageRow[]> {
  return queryRows(q, AgentMessageRow, `SELECT ${MESSAGE_COLUMNS} FROM agent_messages WHERE run_id = $1 ORDER BY id`, [runId]);
}

export function readRunToolCalls(q: Queryable, runId: string): Promise<ToolCallRow[]> {
  return queryRows(
    q,
    ToolCallRow,
    'SELECT id, run_id, agent, tool, args, ok, error_code, result_digest, result_chars, latency_ms, created_at FROM tool_calls WHERE run_id = $1 ORDER BY created_at',
    [runId],
  );
}

export function readRunRetrievals(q: Queryable, runId: string): Promise<RetrievalRow[]> {
  return queryRows(
    q,
    RetrievalRow,
    `SELECT r.rank, r.score, r.query, r.as_of, r.ticker, n.id AS news_id, n.title, n.published_at, n.source, n.url
       FROM retrievals r JOIN news_items n ON n.id = r.news_id WHERE r.run_id = $1 ORDER BY r.id`,
    [runId],
  );
}

export function readRunOutcomeRetrievals(q: Queryable, runId: string): Promise<OutcomeRetrievalRow[]> {
  return queryRows(
    q,
    OutcomeRetrievalRow,
    `SELECT r.rank, r.score, r.tool_call_id, r.as_of, o.id AS outcome_id, o.ticker, o.decision, o.known_at, o.summary
       FROM outcome_retrievals r JOIN outcomes o ON o.id = r.outcome_id WHERE r.run_id = $1 ORDER BY r.id`,
    [runId],
  );
}

/** A critique (one committee run) with its proposal, verdict and transcript, or null. */
export async function readCritique(q: Queryable, id: string): Promise<CritiqueView | null> {
  const run = await readCommitteeRun(q, id);
  if (!run) return null;
  const [verdict, proposal, messages, toolCalls] = await Promise.all([
    queryRow(q, PayloadRow, 'SELECT payload FROM verdicts WHERE run_id = $1', [id]),
    queryRow(q, PayloadRow, 'SELECT payload FROM proposals WHERE id = $1', [run.proposal_id]),
    readRunMessages(q, id),
    readRunToolCalls(q, id),
  ]);
  return {
    id: run.id,
    status: run.status,
    backend: run.backend,
    startedAt: run.started_at,
    finishedAt: run.finished_at,
    stats: CritiqueView.shape.stats.parse(run.stats),
    proposal: proposal ? Proposal.parse(proposal.payload) : null,
    verdict: verdict ? Verdict.parse(verdict.payload) : null,
    messages,
    toolCalls,
  };
}
