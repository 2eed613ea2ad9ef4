import PgBoss from 'pg-boss';
import { z } from 'zod';

/** Queue names. One judge job per proposal; one session job per schedule slot. */
export const QUEUE_SESSION = 'quorum-session';
export const QUEUE_JUDGE = 'quorum-judge';
export const QUEUE_EXITS = 'quorum-exit-monitor';
export const DEFAULT_QUEUE_SCHEMA = 'pgboss';
export const DEFAULT_JUDGE_RETRIES = 2;

export const JudgeJob = z.object({ sessionId: z.string().min(1), proposalId: z.string().min(1) }).strict();
export type JudgeJob = z.infer<typeof JudgeJob>;
export const SessionJob = z.object({ slot: z.string().min(1), asOf: z.string().min(1) }).strict();
export type SessionJob = z.infer<typeof SessionJob>;

export interface QueueOptions {
  /** Schema pg-boss keeps its tables in (tests give each run its own). */
  schema?: string;
  /** Workers poll at this interval (pg-boss minimum 0.5 s). */
  pollingIntervalSeconds?: number;
}

/**
 * pg-boss on the same PostgreSQL as the data: jobs are fetched with SKIP LOCKED, so several worker
 * processes on one machine or many share a session's proposals and no job is handed to two workers.
 * Failed judge jobs are retried with backoff. (pg-boss rather than a queue of our own: it is kept,
 * battle-tested, and needs nothing but the database we already run.)
 */
export class JobQueue {
  private constructor(
    readonly boss: PgBoss,
    private readonly polling: number,
  ) {}

  static async start(url: string, options: QueueOptions = {}): Promise<JobQueue> {
    const boss = new PgBoss({ connectionString: url, schema: options.schema ?? DEFAULT_QUEUE_SCHEMA, max: 4 });
    boss.on('error', () => undefined);
    await boss.start();
    for (const name of [QUEUE_SESSION, QUEUE_JUDGE, QUEUE_EXITS]) {
      const existing = await boss.getQueue(name);
      if (!existing) {
        await boss.createQueue(name, {
          name,
          // A session slot runs once even if the scheduler fires on two machines.
          policy: name === QUEUE_JUDGE ? 'standard' : 'singleton',
          retryLimit: name === QUEUE_JUDGE ? DEFAULT_JUDGE_RETRIES : 0,
          retryDelay: 2,
          retryBackoff: true,
        });
      }
    }
    return new JobQueue(boss, options.pollingIntervalSeconds ?? 0.5);
  }

  /** Enqueues one judge job per proposal; the proposal id is the singleton key. */
  async enqueueJudges(jobs: readonly JudgeJob[]): Promise<void> {
    await this.boss.insert(
      jobs.map((data) => ({ name: QUEUE_JUDGE, data, singletonKey: data.proposalId, retryLimit: DEFAULT_JUDGE_RETRIES, retryBackoff: true, retryDelay: 2 })),
    );
  }

  async enqueueSession(job: SessionJob): Promise<string | null> {
    return this.boss.send(QUEUE_SESSION, job, { singletonKey: job.slot });
  }

  /** Runs `handler` for judge jobs, `concurrency` at a time in this process. */
  async workJudges(concurrency: number, handler: (job: JudgeJob) => Promise<void>): Promise<void> {
    for (let i = 0; i < concurrency; i++) {
      await this.boss.work<JudgeJob>(QUEUE_JUDGE, { batchSize: 1, pollingIntervalSeconds: this.polling }, async ([job]) => {
        if (job) await handler(JudgeJob.parse(job.data));
      });
    }
  }

  async workSessions(handler: (job: SessionJob) => Promise<void>): Promise<void> {
    await this.boss.work<SessionJob>(QUEUE_SESSION, { batchSize: 1, pollingIntervalSeconds: this.polling }, async ([job]) => {
      if (job) await handler(SessionJob.parse(job.data));
    });
  }

  /** Jobs of a queue not yet completed (created, retry or active). */
  async pending(name: string): Promise<number> {
    return this.boss.getQueueSize(name);
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  }
}
