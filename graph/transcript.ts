/**
 * The committee's transcript in the database: committee_runs (one per thread), agent_messages
 * (every prompt and answer per node, prompt version, tokens, latency, validated output), verdicts
 * (+ the Verdict payload). A node's messages, tool calls and retrievals are stored together, with
 * the node's checkpoint writes when the checkpointer is ours (checkpoint/ DbCheckpointSaver.attachToWrites, graph/storage.ts).
 */
import { z } from 'zod';
import { QuorumError, type AgentOpinion, type Verdict } from '../contracts/index.ts';
import type { AgentRunResult, ToolTurnResult } from '../agents/index.ts';
import type { Db } from '../db/index.ts';
import { asOneStatement, toolCallInserts, type ToolCallRows } from '../tools/index.ts';
import type { CommitteeNode, CommitteeStats, NodeTools } from './state.ts';

const RunRow = z.object({ id: z.string(), proposal_id: z.string(), status: z.string() });

/** The run stored for `threadId`, if any. */
export async function findRunByThread(db: Db, threadId: string): Promise<z.infer<typeof RunRow> | null> {
  const res = await db.query('SELECT id, proposal_id, status FROM committee_runs WHERE thread_id = $1 ORDER BY started_at DESC LIMIT 1', [threadId]);
  return res.rows[0] ? RunRow.parse(res.rows[0]) : null;
}

/**
 * Creates the run row, or marks a resumed run as running again. The proposal must be stored: one
 * statement checks it and writes the row (INSERT … SELECT from proposals).
 */
export async function startRun(db: Db, run: { runId: string; threadId: string; proposalId: string; backend: string; sessionId: string | null }): Promise<void> {
  const res = await db.query(
    `INSERT INTO committee_runs (id, session_id, proposal_id, thread_id, backend, status)
     SELECT $1, $2, p.id, $4, $5, 'running' FROM proposals p WHERE p.id = $3
     ON CONFLICT (id) DO UPDATE SET status = 'running', error = NULL, finished_at = NULL, backend = EXCLUDED.backend
     RETURNING id`,
    [run.runId, run.sessionId, run.proposalId, run.threadId, run.backend],
  );
  if (res.rows.length === 0) {
    throw new QuorumError('NOT_FOUND', `proposal ${run.proposalId} is not stored: store it (proposals table) before running the committee`, {
      proposalId: run.proposalId,
    });
  }
}

const MESSAGE_COLUMNS = 'run_id, node, agent, round, message_role, content, prompt_version, tokens_prompt, tokens_completion, latency_ms, output';

/** One agent_messages row, in MESSAGE_COLUMNS order. */
export type MessageRow = readonly unknown[];

function messageRows(
  base: { runId: string; node: CommitteeNode; round: number; agent: string; promptVersion: string },
  messages: ReadonlyArray<{ role: string; content: string }>,
  last: { prompt: number; completion: number; latencyMs: number; output: unknown },
): MessageRow[] {
  const lastIndex = messages.length - 1;
  return messages.map((m, i) => {
    const isLast = i === lastIndex;
    return [
      base.runId,
      base.node,
      base.agent,
      base.round,
      m.role,
      m.content,
      base.promptVersion,
      isLast ? last.prompt : null,
      isLast ? last.completion : null,
      isLast ? last.latencyMs : null,
      isLast ? JSON.stringify(last.output) : null,
    ];
  });
}

/** A node's conversation: tokens, latency and the validated output go on its last message. */
export function nodeTranscriptRows(input: {
  runId: string;
  node: CommitteeNode;
  round: number;
  result: AgentRunResult;
  output: AgentOpinion | Verdict;
}): MessageRow[] {
  const { result } = input;
  return messageRows(
    { runId: input.runId, node: input.node, round: input.round, agent: `${result.role}:${result.backend}`, promptVersion: result.promptVersion },
    result.messages,
    {
      prompt: result.tokens.prompt,
      completion: result.tokens.completion,
      latencyMs: result.latencyMs,
      output: { ...input.output, abstainReason: result.abstainReason, repaired: result.repaired, clamped: result.clamped },
    },
  );
}

/**
 * A node's tool-request turn (its messages; tokens, latency and the calls it led to on the last
 * message), under the agent name `<role>:<backend>:tools`.
 */
export function toolTurnRows(input: { runId: string; node: CommitteeNode; round: number; turn: ToolTurnResult; tools: NodeTools }): MessageRow[] {
  const { turn } = input;
  const output = { toolTurn: true, choice: input.tools.choice, reason: input.tools.reason, calls: input.tools.calls, ignored: input.tools.ignored };
  return messageRows(
    { runId: input.runId, node: input.node, round: input.round, agent: `${turn.role}:${turn.backend}:tools`, promptVersion: turn.promptVersion },
    turn.messages,
    { prompt: turn.tokens.prompt, completion: turn.tokens.completion, latencyMs: turn.latencyMs, output },
  );
}

/** What one finished node stores: its messages (tool turn first) and its tool calls; the committee node may close the run too. */
export interface NodeRecord {
  messages: MessageRow[];
  calls: ToolCallRows[];
  /** Only with the node's writes in one statement (DbCheckpointSaver): see the committee node. */
  finish?: RunFinish;
}

/**
 * The INSERT statements of a node's record, appending their values to `params`: one agent_messages
 * INSERT (so the rows get ids in conversation order), then the tool calls and their retrievals.
 * They are meant to run as one statement (data-modifying CTEs): whole or not at all.
 */
export function nodeRecordInserts(record: NodeRecord, params: unknown[]): string[] {
  const out: string[] = [];
  if (record.messages.length > 0) {
    const values = record.messages.map((row) => {
      const cells = row.map((value, i) => {
        params.push(value);
        return `$${params.length}${i === row.length - 1 ? '::jsonb' : ''}`;
      });
      return `(${cells.join(', ')})`;
    });
    out.push(`INSERT INTO agent_messages (${MESSAGE_COLUMNS}) VALUES ${values.join(', ')}`);
  }
  out.push(...toolCallInserts(record.calls, params));
  if (record.finish) out.push(...finishRunInserts(record.finish, params));
  return out;
}

/** Stores a node's record in one statement (when no checkpointer stores it with the node's writes). */
export async function storeNodeRecord(db: Db, record: NodeRecord): Promise<void> {
  const params: unknown[] = [];
  const sql = asOneStatement(nodeRecordInserts(record, params));
  if (sql) await db.query(sql, params);
}

/** What closes a finished run: its verdict and its totals. */
export interface RunFinish {
  runId: string;
  verdict: Verdict;
  stats: CommitteeStats;
}

/**
 * The statements that store the verdict and close the run, appending their values to `params`:
 * run as one statement (the verdict INSERT a data-modifying CTE of the run UPDATE), so neither is
 * stored without the other; a resumed run never stores two verdicts (the id is the run's).
 */
function finishRunInserts(input: RunFinish, params: unknown[]): string[] {
  const v = input.verdict;
  const at = params.length;
  params.push(
    v.id,
    input.runId,
    v.proposalId,
    v.decision,
    v.sizeMultiplier,
    v.confidence,
    v.backend,
    v.model,
    v.promptVersion,
    v.tokens.prompt,
    v.tokens.completion,
    JSON.stringify(v),
    JSON.stringify(input.stats),
  );
  const $ = (n: number): string => `$${at + n}`;
  return [
    `INSERT INTO verdicts (id, run_id, proposal_id, decision, size_multiplier, confidence, backend, model, prompt_version, tokens_prompt, tokens_completion, payload)
       VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6)}, ${$(7)}, ${$(8)}, ${$(9)}, ${$(10)}::int, ${$(11)}::int, ${$(12)}::jsonb)
       ON CONFLICT (id) DO NOTHING`,
    `UPDATE committee_runs SET status = 'completed', stats = ${$(13)}::jsonb, error = NULL, finished_at = now() WHERE id = ${$(2)}`,
  ];
}

/** Stores the verdict and closes the run, in one statement. */
export async function finishRun(db: Db, input: RunFinish): Promise<void> {
  const params: unknown[] = [];
  const sql = asOneStatement(finishRunInserts(input, params));
  if (sql) await db.query(sql, params);
}

/** Marks a run interrupted (aborted, resumable) or failed, with the reason. */
export async function failRun(db: Db, runId: string, status: 'interrupted' | 'failed', error: string): Promise<void> {
  await db.query(`UPDATE committee_runs SET status = $2, error = $3, finished_at = now() WHERE id = $1`, [runId, status, error.slice(0, 2000)]);
}
