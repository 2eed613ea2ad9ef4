/**
 * The long-running parts the CLI starts: the HTTP API (`serve`), the scheduler with the intraday exit
 * monitor (`session schedule`), the queue workers (`worker`), and all of them in one process (`run`).
 * Each returns a stop function that lets work in flight end before it closes what it opened.
 */
import type { Db } from '../db/index.ts';
import type { Broker } from '../execution/index.ts';
import type { Notifier } from '../notify/index.ts';
import type { JobQueue, SessionEnv } from '../sessions/index.ts';
import { QuorumError, errorMessage } from '../contracts/index.ts';
import type { CliContext } from './context.ts';

/**
 * The notifier (settings notifications: webhooks, Slack) on this process's database: it delivers the
 * audit events written from now on in the background. A no-op without targets.
 */
export async function startNotifications(ctx: CliContext, db: Db): Promise<Notifier> {
  const { startNotifier } = await import('../notify/index.ts');
  return startNotifier({ db, config: ctx.config, log: ctx.log });
}

/** Delivers what is pending (up to `ms`), then stops the notifier: for a command about to exit. */
export async function closeNotifications(notifier: Notifier, ms = 10_000): Promise<void> {
  await notifier.flush(ms);
  await notifier.stop();
}

/** The queue's PostgreSQL: pg-boss keeps its jobs there (the embedded PGlite serves one process only). */
export function requireDatabaseUrl(url: string | null, what: string): string {
  if (!url)
    throw new QuorumError('CONFIG_MISSING', `${what} shares jobs through pg-boss on PostgreSQL: set DATABASE_URL (see the README, "Real PostgreSQL")`, {
      field: 'DATABASE_URL',
    });
  return url;
}

export interface ApiServer {
  url: string;
  /** Stops accepting connections and waits for the open requests to finish. */
  close(): Promise<void>;
}

/** Listens with the Hono app on host:port (0: a free port); rejects when the address is taken. */
export async function startApiServer(ctx: CliContext, db: Db, session: SessionEnv, options: { host: string; port: number }): Promise<ApiServer> {
  const { serve } = await import('@hono/node-server');
  const { createApp, newLocalKey, writeServeFile } = await import('../api/index.ts');
  // With the embedded database this process is its only user; `quorum token create` asks it through serve.json.
  const localKey = db.kind === 'pglite' ? newLocalKey() : undefined;
  const app = createApp({ db, config: ctx.config, log: ctx.log, session, localKey });
  const { host, port } = options;
  return new Promise<ApiServer>((resolve, reject) => {
    let removeServeFile = (): void => {};
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => {
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${info.port}`;
      if (localKey) removeServeFile = writeServeFile(ctx.config.dataDir, { pid: process.pid, url, key: localKey });
      ctx.log.info({ host, port: info.port, database: db.kind }, 'quorum API listening');
      process.stderr.write(`quorum API on ${url} (database: ${db.kind}); OpenAPI at ${url}/openapi.json\n`);
      resolve({
        url,
        close: () =>
          new Promise<void>((done) => {
            removeServeFile();
            server.close(() => done());
          }),
      });
    });
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new QuorumError('CONFLICT', `cannot listen on ${host}:${port}: ${error.code ?? error.message} (another process has the port? use --port)`, {
          field: 'port',
          host,
          port,
        }),
      ),
    );
  });
}

/**
 * Enqueues a session job at every slot of settings sessions.schedule (trading days, New York time),
 * runs the exit monitor at sessions.exitMonitorCron inside market hours and, with retrain.cron set,
 * the scheduled retrain. The session job is a pg-boss
 * singleton per slot: two schedulers never start the same slot twice.
 */
export async function startScheduler(ctx: CliContext, queue: JobQueue, db: Db, broker: Broker): Promise<() => void> {
  const { scheduleRetrain, scheduleSlots } = await import('../sessions/index.ts');
  const { isMarketOpen } = await import('../market/index.ts');
  const { runExitMonitor } = await import('../execution/index.ts');
  const { schedule, exitMonitorCron } = ctx.config.settings.sessions;
  const tz = ctx.config.settings.market.timezone;
  const stopSessions = scheduleSlots(schedule, tz, async (slot) => {
    const id = await queue.enqueueSession({ slot: slot.slot, asOf: slot.at });
    ctx.log.info({ slot: slot.slot, job: id }, id ? 'session enqueued' : 'slot already enqueued');
  });
  // Intraday: stops, targets, time exits, breakeven moves and momentum reversals, in market hours.
  const stopExits = scheduleSlots([exitMonitorCron], tz, async (slot) => {
    if (!isMarketOpen(slot.at)) return;
    try {
      const actions = await runExitMonitor({ db, broker, config: ctx.config, asOf: slot.at });
      ctx.log.info({ slot: slot.slot, actions: actions.length }, 'exit monitor ran');
    } catch (error) {
      ctx.log.error({ err: errorMessage(error) }, 'exit monitor failed');
    }
  });
  // Retraining (settings retrain.cron): a new version enters staging; the promotion rule decides.
  const retrainJob = scheduleRetrain(db, ctx.config, ctx.log);
  const retrainCron = ctx.config.settings.retrain.cron;
  process.stderr.write(
    `scheduler running (${schedule.join(', ')} in ${tz}; exit monitor ${exitMonitorCron}${retrainCron ? `; retrain ${retrainCron}` : ''})\n`,
  );
  return () => {
    stopSessions();
    stopExits();
    retrainJob?.stop();
  };
}

/** Judges proposals from the queue (`concurrency` at once) and runs the scheduled session jobs at the wall clock. */
export async function startWorkers(env: SessionEnv, queue: JobQueue, concurrency: number): Promise<void> {
  const { runDistributedSession, startJudgeWorker } = await import('../sessions/index.ts');
  await startJudgeWorker(env, queue, concurrency);
  await queue.workSessions(async (job) => {
    // Scheduled slots run at the wall clock: live.
    await runDistributedSession(env, queue, { asOf: job.asOf, kind: 'scheduled', slot: job.slot, live: true });
  });
  process.stderr.write(`worker judging up to ${concurrency} proposal(s) at once\n`);
}

/**
 * Runs `stop` once on the first SIGINT or SIGTERM, then exits 0 (1 when stopping failed). A second
 * signal while stopping exits at once with 130.
 */
export function onShutdown(ctx: CliContext, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`quorum: ${signal} again: exiting without waiting\n`);
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`quorum: ${signal}: stopping (work in flight finishes or stays resumable)\n`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        ctx.log.error({ err: errorMessage(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
