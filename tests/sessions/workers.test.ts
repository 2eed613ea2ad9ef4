import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, createLogger, loadConfig, type Config } from '../../config/index.ts';
import { openPostgres, type Db } from '../../db/index.ts';
import { createBroker, startPaperExchange, type RunningPaperExchange } from '../../execution/index.ts';
import { openCheckpointer, selectBackend, type OpenCheckpointer } from '../../graph/index.ts';
import { ingestPriceCsv, newYorkToUtc } from '../../market/index.ts';
import { loadProposer, registerModel, type Proposer } from '../../ml/index.ts';
import { JobQueue, runDistributedSession, startJudgeWorker, type SessionEnv } from '../../sessions/index.ts';
import { freshPostgres, hasPg, type TestDb } from '../support/db.ts';

const AS_OF = newYorkToUtc('1999-06-01', 12, 30);

describe.skipIf(!hasPg)('two workers on one PostgreSQL share a session', () => {
  let t: TestDb;
  let config: Config;
  let exchange: RunningPaperExchange;
  let proposer: Proposer;
  const pgbossSchema = `pgboss_${randomBytes(4).toString('hex')}`;
  const opened: Array<{ db: Db; queue: JobQueue; checkpointer: OpenCheckpointer }> = [];

  async function participant(): Promise<{ env: SessionEnv; queue: JobQueue }> {
    const db = await openPostgres(t.url ?? '', { poolMax: 4 });
    const queue = await JobQueue.start(t.url ?? '', { schema: pgbossSchema, pollingIntervalSeconds: 0.5 });
    const checkpointer = await openCheckpointer(db, { databaseUrl: t.url });
    opened.push({ db, queue, checkpointer });
    const env: SessionEnv = {
      db,
      config,
      log: createLogger({ ...config, settings: { ...config.settings, logging: { level: 'silent' } } }),
      broker: createBroker(config, { paperExchangeUrl: exchange.url }),
      backend: await selectBackend(config, 'rules'),
      proposer,
      now: () => AS_OF,
      checkpointer: checkpointer.saver,
    };
    return { env, queue };
  }

  beforeAll(async () => {
    t = await freshPostgres();
    config = loadConfig({ env: { DATABASE_URL: t.url ?? '', QUORUM_MODELS__LLM__BACKEND: 'rules' } });
    await ingestPriceCsv(t.db, path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv'));
    const cardPath = path.resolve(PROJECT_ROOT, config.models.proposer.cardPath);
    proposer = await loadProposer(cardPath);
    await registerModel(t.db, proposer.card, cardPath, 'production');
    exchange = await startPaperExchange({ db: t.db, settings: config.settings.execution.paperExchange, port: 0, initialNow: AS_OF });
  }, 180_000);

  afterAll(async () => {
    for (const o of opened) {
      await o.queue.stop();
      await o.checkpointer.close();
      await o.db.close();
    }
    await exchange?.close();
    await proposer?.session.release();
    const admin = await openPostgres(process.env.TEST_DATABASE_URL ?? '', { poolMax: 1 });
    await admin.exec(`DROP SCHEMA IF EXISTS ${pgbossSchema} CASCADE`);
    await admin.close();
    await t?.cleanup();
  });

  it('judges every proposal exactly once, spreads them over both workers and retries a failed job', async () => {
    const judgedBy = new Map<string, string[]>();
    let faults = 0;
    const workers = [await participant(), await participant()];
    for (const [i, w] of workers.entries()) {
      await startJudgeWorker(w.env, w.queue, 1, {
        beforeJudge: (job) => {
          // The first attempt at the first job worker 0 sees crashes: pg-boss must retry it.
          if (i === 0 && faults === 0) {
            faults++;
            throw new Error('injected worker crash');
          }
          judgedBy.set(job.proposalId, [...(judgedBy.get(job.proposalId) ?? []), `w${i}`]);
        },
      });
    }
    const coordinator = await participant();
    const outcome = await runDistributedSession(coordinator.env, coordinator.queue, {
      asOf: AS_OF,
      kind: 'scheduled',
      slot: 'test 1999-06-01 12:30',
      waitMs: 240_000,
    });

    expect(outcome.created).toBe(true);
    expect(outcome.jobs).toBe(5);
    expect(outcome.failedJobs).toBe(0);
    expect(faults).toBe(1);
    const counts = await t.db.query<{ id: string; runs: number; verdicts: number; decisions: number }>(
      `SELECT p.id,
              (SELECT count(*)::int FROM committee_runs r WHERE r.proposal_id = p.id) AS runs,
              (SELECT count(*)::int FROM verdicts v WHERE v.proposal_id = p.id) AS verdicts,
              (SELECT count(*)::int FROM risk_decisions d WHERE d.proposal_id = p.id) AS decisions
         FROM proposals p WHERE p.session_id = $1 AND EXISTS (SELECT 1 FROM verdicts v WHERE v.proposal_id = p.id)`,
      [outcome.sessionId],
    );
    expect(counts.rows).toHaveLength(5);
    for (const row of counts.rows) expect([row.runs, row.verdicts, row.decisions]).toEqual([1, 1, 1]);
    // Every judged proposal was taken by exactly one worker, once.
    expect([...judgedBy.values()].every((w) => w.length === 1)).toBe(true);
    expect(judgedBy.size).toBe(5);
    const perWorker = [...judgedBy.values()].flat();
    expect(perWorker.filter((w) => w === 'w0').length).toBeGreaterThan(0);
    expect(perWorker.filter((w) => w === 'w1').length).toBeGreaterThan(0);
    const session = await t.db.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [outcome.sessionId]);
    expect(session.rows[0]?.status).toBe('completed');

    const again = await runDistributedSession(coordinator.env, coordinator.queue, { asOf: AS_OF, kind: 'scheduled', slot: 'test 1999-06-01 12:30' });
    expect(again.created).toBe(false);
  });
});
