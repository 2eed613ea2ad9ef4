import { z } from 'zod';
import { Proposal, QuorumError } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { QUEUE_JUDGE, type JobQueue, type JudgeJob } from './queue.ts';
import { fillNextBar, finishSession, judgeProposal, prepareSession, type RunSessionOptions, type SessionEnv } from './run.ts';
import type { WrittenReport } from './report.ts';

/** How long a coordinator waits for the workers before giving up on a session. */
export const DEFAULT_SESSION_WAIT_MS = 30 * 60_000;
const POLL_MS = 250;

const PayloadRow = z.object({ payload: z.unknown() });

/** A stored proposal, as the proposer stored it. */
export async function loadProposal(db: Db, id: string): Promise<Proposal> {
  const res = await db.query('SELECT payload FROM proposals WHERE id = $1', [id]);
  const row = res.rows[0];
  if (!row) throw new QuorumError('NOT_FOUND', `no proposal ${id}`);
  return Proposal.parse(PayloadRow.parse(row).payload);
}

/**
 * Judges proposals from the queue in this process. A job that throws is retried by pg-boss (with
 * backoff); judging is idempotent, so a retry after a crash never judges or orders twice.
 */
export async function startJudgeWorker(env: SessionEnv, queue: JobQueue, concurrency: number, hooks: JudgeHooks = {}): Promise<void> {
  await queue.workJudges(concurrency, async (job) => {
    await hooks.beforeJudge?.(job);
    const proposal = await loadProposal(env.db, job.proposalId);
    await judgeProposal(env, job.sessionId, proposal);
    hooks.afterJudged?.(job);
  });
}

/** Observation and fault-injection points of a worker. */
export interface JudgeHooks {
  /** Before the proposal is judged; throwing here fails the job (pg-boss retries it). */
  beforeJudge?(job: JudgeJob): void | Promise<void>;
  afterJudged?(job: JudgeJob): void;
}

export interface DistributedOutcome {
  sessionId: string;
  created: boolean;
  jobs: number;
  failedJobs: number;
  report: WrittenReport | null;
  /** Why the session traded nothing (stale or unrefreshable inputs), or null. */
  skipped: string | null;
}

/**
 * A session whose proposals are shared by every worker on the same PostgreSQL: the coordinator
 * prepares the session, enqueues one judge job per proposal, waits for them, and writes the report.
 */
export async function runDistributedSession(env: SessionEnv, queue: JobQueue, options: RunSessionOptions & { waitMs?: number }): Promise<DistributedOutcome> {
  const prepared = await prepareSession(env, options);
  if (!prepared.created || prepared.skipped)
    return { sessionId: prepared.sessionId, created: prepared.created, jobs: 0, failedJobs: 0, report: prepared.report, skipped: prepared.skipped };
  const ids: string[] = [];
  for (const p of prepared.chosen) {
    const id = await queue.boss.send(
      QUEUE_JUDGE,
      { sessionId: prepared.sessionId, proposalId: p.id },
      { singletonKey: p.id, retryLimit: 2, retryDelay: 1, retryBackoff: true },
    );
    if (id) ids.push(id);
  }
  options.onProgress?.(`enqueued ${ids.length} judge job(s) for session ${prepared.sessionId}`);
  const deadline = Date.now() + (options.waitMs ?? DEFAULT_SESSION_WAIT_MS);
  let failed: number;
  for (;;) {
    const states = await Promise.all(ids.map((id) => queue.boss.getJobById(QUEUE_JUDGE, id, { includeArchive: true })));
    const done = states.filter((j) => j && (j.state === 'completed' || j.state === 'failed' || j.state === 'cancelled'));
    if (done.length === ids.length) {
      failed = states.filter((j) => j?.state === 'failed').length;
      break;
    }
    if (Date.now() > deadline)
      throw new QuorumError('INTERNAL', `session ${prepared.sessionId}: ${ids.length - done.length} judge job(s) unfinished after the wait`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  await fillNextBar(env, options);
  const report = await finishSession(env, prepared.sessionId, prepared.proposals);
  return { sessionId: prepared.sessionId, created: true, jobs: ids.length, failedJobs: failed, report, skipped: null };
}
