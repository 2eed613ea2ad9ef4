/**
 * The committee's transcript in the database: committee_runs (one per thread), agent_messages
 * (every prompt and answer per node, prompt version, tokens, latency, validated output), verdicts
 * (+ the Verdict payload). Tool calls and retrievals are stored by tools/ as they happen.
 */
import { z } from 'zod';
import { QuorumError, type AgentOpinion, type Verdict } from '../contracts/index.ts';
import type { AgentRunResult, ToolTurnResult } from '../agents/index.ts';
import type { Db } from '../db/index.ts';
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
export async function startRun(
  db: Db,
  run: { runId: string; threadId: string; proposalId: string; backend: string; sessionId: string | null },
): Promise<void> {
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

/** Stores one node's conversation; tokens, latency and the validated output go on its last message. */
export async function storeNodeTranscript(
  db: Db,
  input: { runId: string; node: CommitteeNode; round: number; result: AgentRunResult; output: AgentOpinion | Verdict },
): Promise<void> {
  const { result } = input;
  const last = result.messages.length - 1;
  const params: unknown[] = [];
  // One multi-row INSERT: the node's conversation is stored whole or not at all.
  const values = result.messages.map((m, i) => {
    const isLast = i === last;
    params.push(
      input.runId,
      input.node,
      `${result.role}:${result.backend}`,
      input.round,
      m.role,
      m.content,
      result.promptVersion,
      isLast ? result.tokens.prompt : null,
      isLast ? result.tokens.completion : null,
      isLast ? result.latencyMs : null,
      isLast ? JSON.stringify({ ...input.output, abstainReason: result.abstainReason, repaired: result.repaired, clamped: result.clamped }) : null,
    );
    const o = i * 11;
    return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}, $${o + 8}, $${o + 9}, $${o + 10}, $${o + 11}::jsonb)`;
  });
  if (values.length === 0) return;
  await db.query(
    `INSERT INTO agent_messages (run_id, node, agent, round, message_role, content, prompt_version, tokens_prompt, tokens_completion, latency_ms, output)
     VALUES ${values.join(', ')}`,
    params,
  );
}

/**
 * Stores the verdict and closes the run in one statement (a data-modifying CTE commits with it),
 * so neither is stored without the other; a resumed run never stores two verdicts.
 */
export async function finishRun(db: Db, input: { runId: string; verdict: Verdict; stats: CommitteeStats }): Promise<void> {
  const v = input.verdict;
  await db.query(
    `WITH verdict AS (
       INSERT INTO verdicts (id, run_id, proposal_id, decision, size_multiplier, confidence, backend, model, prompt_version, tokens_prompt, tokens_completion, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
       ON CONFLICT (id) DO NOTHING
     )
     UPDATE committee_runs SET status = 'completed', stats = $13::jsonb, error = NULL, finished_at = now() WHERE id = $2`,
    [
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
    ],
  );
}

/** Marks a run interrupted (aborted, resumable) or failed, with the reason. */
export async function failRun(db: Db, runId: string, status: 'interrupted' | 'failed', error: string): Promise<void> {
  await db.query(`UPDATE committee_runs SET status = $2, error = $3, finished_at = now() WHERE id = $1`, [runId, status, error.slice(0, 2000)]);
}

/**
 * Stores a node's tool-request turn (its messages; tokens, latency and the calls it led to on the
 * last message), under the agent name `<role>:<backend>:tools`, in one INSERT.
 */
export async function storeToolTurn(
  db: Db,
  input: { runId: string; node: CommitteeNode; round: number; turn: ToolTurnResult; tools: NodeTools },
): Promise<void> {
  const { turn } = input;
  const last = turn.messages.length - 1;
  const params: unknown[] = [];
  const output = { toolTurn: true, choice: input.tools.choice, reason: input.tools.reason, calls: input.tools.calls, ignored: input.tools.ignored };
  const values = turn.messages.map((m, i) => {
    const isLast = i === last;
    params.push(
      input.runId,
      input.node,
      `${turn.role}:${turn.backend}:tools`,
      input.round,
      m.role,
      m.content,
      turn.promptVersion,
      isLast ? turn.tokens.prompt : null,
      isLast ? turn.tokens.completion : null,
      isLast ? turn.latencyMs : null,
      isLast ? JSON.stringify(output) : null,
    );
    const o = i * 11;
    return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}, $${o + 8}, $${o + 9}, $${o + 10}, $${o + 11}::jsonb)`;
  });
  if (values.length === 0) return;
  await db.query(
    `INSERT INTO agent_messages (run_id, node, agent, round, message_role, content, prompt_version, tokens_prompt, tokens_completion, latency_ms, output)
     VALUES ${values.join(', ')}`,
    params,
  );
}
