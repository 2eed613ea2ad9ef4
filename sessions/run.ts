import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import type { Config, Logger } from '../config/index.ts';
import { Verdict, errorMessage, type Proposal, type RiskDecision } from '../contracts/index.ts';
import { appendAudit, type Db } from '../db/index.ts';
import { reconcile, type Broker, type SubmitOutcome } from '../execution/index.ts';
import type { BaseCheckpointSaver } from '@langchain/langgraph-checkpoint';
import { runCommittee, type SelectedBackend } from '../graph/index.ts';
import { runOrderStage } from './order-graph.ts';
import { barCoverage } from '../market/index.ts';
import { propose, type Proposer } from '../ml/index.ts';
import type { NewsSearcher } from '../tools/index.ts';
import { writeSessionReport, type WrittenReport } from './report.ts';

export const SessionKind = z.enum(['scheduled', 'manual', 'demo', 'api', 'backtest']);
export type SessionKind = z.infer<typeof SessionKind>;

/** What a session needs from the outside world; the demo, the scheduler and the workers each build one. */
export interface SessionEnv {
  db: Db;
  config: Config;
  log: Logger;
  broker: Broker;
  backend: SelectedBackend;
  proposer: Proposer;
  searchNews?: NewsSearcher;
  /** The decision clock (ISO). Live sessions pass the wall clock; the demo passes the session's as-of. */
  now: () => string;
  /** One committee checkpointer shared by the session's runs (see graph/openCheckpointer). */
  checkpointer: BaseCheckpointSaver;
}

/** What happened to one proposal. */
export interface JudgedProposal {
  proposal: Proposal;
  verdict: Verdict | null;
  decision: RiskDecision | null;
  order: SubmitOutcome | null;
  /** The approval this proposal's order waits for (execution.requireApproval). */
  pendingApproval: string | null;
  /** Set when this proposal failed (its siblings go on). */
  error: string | null;
}

export interface SessionOutcome {
  sessionId: string;
  /** False when the slot already had a session (one session per slot): nothing was run again. */
  created: boolean;
  judged: JudgedProposal[];
  report: WrittenReport | null;
  notice: string;
}

export interface RunSessionOptions {
  asOf: string;
  kind: SessionKind;
  /** A schedule slot such as `2000-06-01T12:30 America/New_York`: at most one session per slot. */
  slot?: string;
  /** Default: settings.market.universe, or every ticker with bars. */
  tickers?: readonly string[];
  topN?: number;
  onProgress?: (message: string) => void;
}

function sessionIdFor(slot: string | undefined): string {
  if (slot) return `ses_${createHash('sha256').update(slot).digest('hex').slice(0, 16)}`;
  return `ses_${randomBytes(8).toString('hex')}`;
}

/** Creates the session row; returns false when the slot already has one. */
async function createSession(db: Db, id: string, options: RunSessionOptions, backend: string): Promise<boolean> {
  const res = await db.query(
    `INSERT INTO sessions (id, kind, slot, as_of, status, backend) VALUES ($1, $2, $3, $4, 'running', $5)
     ON CONFLICT DO NOTHING RETURNING id`,
    [id, options.kind, options.slot ?? null, options.asOf, backend],
  );
  return res.rows.length > 0;
}

/** The proposals worth the committee's time: the N most confident, by distance from 0.5. */
export function topProposals(proposals: readonly Proposal[], n: number): Proposal[] {
  return [...proposals].sort((a, b) => Math.abs(b.probability - 0.5) - Math.abs(a.probability - 0.5) || a.ticker.localeCompare(b.ticker)).slice(0, n);
}

const VerdictRow = z.object({ payload: z.unknown(), run_id: z.string().nullable() });

/**
 * Committee, risk and order for one stored proposal. Idempotent: a proposal that already has a verdict
 * (a retried job, a restarted worker) is not judged again; its committee thread id is deterministic,
 * so an interrupted run resumes from its checkpoint; the order's client_order_id is deterministic, so
 * it is never sent twice.
 */
export async function judgeProposal(env: SessionEnv, sessionId: string, proposal: Proposal): Promise<JudgedProposal> {
  const { db, config } = env;
  const stored = await db.query('SELECT payload, run_id FROM verdicts WHERE proposal_id = $1 ORDER BY created_at LIMIT 1', [proposal.id]);
  let verdict: Verdict;
  let runId: string | null;
  if (stored.rows[0]) {
    const row = VerdictRow.parse(stored.rows[0]);
    verdict = Verdict.parse(row.payload);
    runId = row.run_id;
  } else {
    const result = await runCommittee({
      db,
      config,
      proposal,
      backend: env.backend.backend,
      searchNews: env.searchNews,
      sessionId,
      threadId: `thr_${proposal.id}`,
      checkpointer: env.checkpointer,
    });
    verdict = result.verdict;
    runId = result.runId;
  }
  // Risk, then (with execution.requireApproval) a human, then the order: a checkpointed graph of its own.
  const stage = await runOrderStage(env, { sessionId, proposal, verdict, runId });
  return { proposal, verdict, decision: stage.decision, order: stage.order, pendingApproval: stage.pendingApproval, error: null };
}

interface PreparedSession {
  sessionId: string;
  created: boolean;
  chosen: Proposal[];
  proposals: number;
}

/** Session row, startup reconciliation, proposals, the top N. A slot that already ran returns created=false. */
export async function prepareSession(env: SessionEnv, options: RunSessionOptions): Promise<PreparedSession> {
  const { db, config } = env;
  const sessionId = sessionIdFor(options.slot);
  if (!(await createSession(db, sessionId, options, env.backend.name))) {
    progress(env, options, `slot ${options.slot ?? ''} already has session ${sessionId}: not run again`);
    return { sessionId, created: false, chosen: [], proposals: 0 };
  }
  await appendAudit(db, 'session.started', 'session', sessionId, { asOf: options.asOf, kind: options.kind, backend: env.backend.name });
  progress(env, options, env.backend.notice);
  try {
    // Startup reconciliation: a failure halts trading (risk then denies every new order).
    const rec = await reconcile(db, env.broker);
    progress(env, options, `reconciled with the broker: ${JSON.stringify(rec)}`);
    const universe = options.tickers?.length
      ? [...options.tickers]
      : config.settings.market.universe.length
        ? [...config.settings.market.universe]
        : (await barCoverage(db)).filter((c) => c.first <= options.asOf).map((c) => c.ticker);
    const proposed = await propose(db, { asOf: options.asOf, tickers: universe, proposer: env.proposer, settings: config.settings, sessionId });
    const chosen = topProposals(proposed.proposals, options.topN ?? config.settings.sessions.topN);
    progress(
      env,
      options,
      `proposer: ${proposed.proposals.length} proposals, ${proposed.abstained.length} abstained, ${proposed.skipped.length} skipped; judging the top ${chosen.length}`,
    );
    return { sessionId, created: true, chosen, proposals: proposed.proposals.length };
  } catch (error) {
    await failSession(env, sessionId, error);
    throw error;
  }
}

async function failSession(env: SessionEnv, sessionId: string, error: unknown): Promise<void> {
  await env.db.query(`UPDATE sessions SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1`, [sessionId, errorMessage(error)]);
  await appendAudit(env.db, 'session.failed', 'session', sessionId, { error: errorMessage(error) });
}

function progress(env: SessionEnv, options: Pick<RunSessionOptions, 'slot' | 'kind' | 'onProgress'>, message: string): void {
  env.log.info({ session: options.slot ?? options.kind }, message);
  options.onProgress?.(message);
}

/** Judges one proposal and never throws: a failed proposal is reported and its siblings go on. */
export async function judgeSafely(env: SessionEnv, sessionId: string, p: Proposal, onProgress?: (m: string) => void): Promise<JudgedProposal> {
  try {
    const j = await judgeProposal(env, sessionId, p);
    onProgress?.(`${p.ticker}: ${j.verdict?.decision ?? '-'} -> ${j.decision?.action ?? '-'} ${j.decision?.finalQty ?? 0}${j.order ? ` -> order ${j.order.status}` : ''}${j.pendingApproval ? ` -> awaiting approval ${j.pendingApproval}` : ''}`);
    return j;
  } catch (error) {
    env.log.error({ err: errorMessage(error), proposal: p.id }, 'proposal failed');
    onProgress?.(`${p.ticker}: failed: ${errorMessage(error)}`);
    return { proposal: p, verdict: null, decision: null, order: null, pendingApproval: null, error: errorMessage(error) };
  }
}

/** Marks the session completed with its stats (read from what was stored) and writes the report. */
export async function finishSession(env: SessionEnv, sessionId: string, proposals: number): Promise<WrittenReport> {
  const { db, config } = env;
  const counts = await db.query(
    `SELECT (SELECT count(*) FROM verdicts v JOIN proposals p ON p.id = v.proposal_id WHERE p.session_id = $1)::int AS verdicts,
            (SELECT count(*) FROM risk_decisions r JOIN proposals p ON p.id = r.proposal_id WHERE p.session_id = $1)::int AS decisions,
            (SELECT count(*) FROM order_intents WHERE session_id = $1)::int AS orders`,
    [sessionId],
  );
  const stats = { proposals, ...z.object({ verdicts: z.number(), decisions: z.number(), orders: z.number() }).parse(counts.rows[0]) };
  await db.query(`UPDATE sessions SET status = 'completed', finished_at = now(), stats = $2 WHERE id = $1`, [sessionId, JSON.stringify(stats)]);
  const report = await writeSessionReport(db, sessionId, path.resolve(config.dataDir, config.settings.sessions.reportsDir), env.now());
  await appendAudit(db, 'session.completed', 'session', sessionId, stats);
  return report;
}

/**
 * One committee session in this process: reconcile with the broker, propose, take the top N, judge them
 * with bounded concurrency (committee -> risk -> order), then write the report.
 */
export async function runSession(env: SessionEnv, options: RunSessionOptions): Promise<SessionOutcome> {
  const prepared = await prepareSession(env, options);
  if (!prepared.created) return { sessionId: prepared.sessionId, created: false, judged: [], report: null, notice: env.backend.notice };
  try {
    const limit = pLimit(env.config.settings.committee.concurrency);
    const judged = await Promise.all(prepared.chosen.map((p) => limit(() => judgeSafely(env, prepared.sessionId, p, options.onProgress))));
    const report = await finishSession(env, prepared.sessionId, prepared.proposals);
    progress(env, options, `report: ${report.html}`);
    return { sessionId: prepared.sessionId, created: true, judged, report, notice: env.backend.notice };
  } catch (error) {
    await failSession(env, prepared.sessionId, error);
    throw error;
  }
}
