import type { Command } from 'commander';
import { z } from 'zod';
import { IsoDateTime, parseOrThrow } from '../../contracts/index.ts';
import { BackendChoice } from '../../config/index.ts';
import { cliContext, printJson } from '../context.ts';
import { closeNotifications, onShutdown, requireDatabaseUrl, startNotifications, startScheduler, startWorkers } from '../services.ts';

/** What the session commands run, loaded on use so the rest of the CLI starts fast. */
async function sessionModules() {
  const [execution, market, db, sessions, table] = await Promise.all([
    import('../../execution/index.ts'),
    import('../../market/index.ts'),
    import('../../db/index.ts'),
    import('../../sessions/index.ts'),
    import('../session-table.ts'),
  ]);
  return { ...execution, ...market, ...db, ...sessions, ...table };
}

const RunArgs = z.object({ asOf: IsoDateTime.optional(), backend: BackendChoice.optional(), json: z.boolean().optional() }).strict();
const WorkerArgs = z.object({ concurrency: z.coerce.number().int().min(1).max(16) }).strict();

export function registerSession(program: Command): void {
  const session = program.command('session').description('committee sessions');
  session
    .command('run')
    .description(
      'run one session now (with DATABASE_URL, proposals are shared with running workers and orders go to a running quorum paper-exchange; on PGlite the paper exchange runs in-process)',
    )
    .option('--as-of <iso>', 'point in time (default: now)')
    .option('--backend <name>', 'auto | ollama | llama-cpp | rules')
    .option('--json', 'print the outcome as JSON')
    .action(async (raw: unknown) => {
      const args = parseOrThrow(RunArgs, raw, 'quorum session run');
      const ctx = cliContext();
      const {
        buildSessionEnv,
        JobQueue,
        loadReportData,
        openDb,
        runDistributedSession,
        runSession,
        sessionTable,
        slotName,
        startJudgeWorker,
        startPaperExchange,
      } = await sessionModules();
      // Without --as-of the session is live (wall clock, fresh bars required); with it, a past time on the paper exchange's clock.
      const live = args.asOf === undefined;
      const asOf = args.asOf ?? new Date().toISOString();
      // Progress goes to stderr as plain lines; keep the JSON log for warnings unless a level was asked for.
      if (!process.env.QUORUM_SETTINGS__LOGGING__LEVEL) ctx.log.level = 'warn';
      const db = await openDb(ctx.config);
      const notifier = await startNotifications(ctx, db);
      // PGlite is one process's database: no separate `quorum paper-exchange` can share it, so the session runs one in-process (as the demo does).
      const exec = ctx.config.settings.execution;
      const inProcess =
        db.kind === 'pglite' && exec.broker === 'paper-exchange' && exec.mode !== 'live'
          ? await startPaperExchange({ db, settings: exec.paperExchange, port: 0, initialNow: asOf }).catch(async (error: unknown) => {
              await notifier.stop();
              await db.close();
              throw error;
            })
          : null;
      if (inProcess) process.stderr.write(`paper exchange: ${inProcess.url} (in-process, on the embedded PGlite database)\n`);
      const built = await buildSessionEnv(db, ctx.config, ctx.log, {
        backend: args.backend,
        now: live ? undefined : () => asOf,
        exchangeClock: true,
        paperExchangeUrl: inProcess?.url,
      }).catch(async (error: unknown) => {
        await inProcess?.close();
        await notifier.stop();
        await db.close();
        throw error;
      });
      try {
        const slot = `manual ${slotName(new Date(asOf), ctx.config.settings.market.timezone)}`;
        const onProgress = (m: string): void => void process.stderr.write(`${m}\n`);
        const outcome = ctx.config.secrets.databaseUrl
          ? await (async () => {
              const queue = await JobQueue.start(ctx.config.secrets.databaseUrl ?? '');
              try {
                // This process judges too, so a session completes even with no other worker running.
                await startJudgeWorker(built.env, queue, ctx.config.settings.committee.concurrency);
                return await runDistributedSession(built.env, queue, { asOf, kind: 'manual', slot, onProgress, live, asOfLabel: live ? 'now' : '--as-of' });
              } finally {
                await queue.stop();
              }
            })()
          : await runSession(built.env, { asOf, kind: 'manual', slot, onProgress, live, asOfLabel: live ? 'now' : '--as-of' });
        if (outcome.skipped) {
          // Stale or unrefreshable inputs: the session is stored as skipped, its report says why.
          process.exitCode = 1;
          if (args.json) printJson(outcome);
          else
            process.stdout.write(
              `\nsession ${outcome.sessionId} as of ${asOf} traded nothing: ${outcome.skipped}\n${outcome.report ? `report: ${outcome.report.html}\n` : ''}`,
            );
          process.stderr.write(`quorum: session ${outcome.sessionId} traded nothing: ${outcome.skipped}\n`);
          return;
        }
        if (args.json) {
          printJson(outcome);
          return;
        }
        process.stdout.write(`\nsession ${outcome.sessionId}${outcome.created ? '' : ' (slot already ran: showing the stored session)'} as of ${asOf}\n`);
        process.stdout.write(`judged by: ${built.env.backend.notice}\n`);
        process.stdout.write(sessionTable(await loadReportData(db, outcome.sessionId, new Date().toISOString())));
        if (outcome.report) process.stdout.write(`report: ${outcome.report.html}\n        ${outcome.report.markdown}\n`);
      } finally {
        await built.close();
        await inProcess?.close();
        // What the session wrote (done, skipped, failed, approvals, rejections) goes out before exit.
        await closeNotifications(notifier);
        await db.close();
      }
    });

  session
    .command('schedule')
    .description('run sessions on the schedule of settings.yaml (market days, America/New_York), and the exit monitor')
    .option('--dry-run', 'print the next firings and exit')
    .action(async (opts: { dryRun?: boolean }) => {
      const ctx = cliContext();
      // --dry-run needs the calendar only: the session modules load after it.
      const [{ nextSlots }, { isMarketOpen }] = await Promise.all([import('../../sessions/schedule.ts'), import('../../market/index.ts')]);
      const { schedule } = ctx.config.settings.sessions;
      const tz = ctx.config.settings.market.timezone;
      const upcoming = nextSlots(schedule, tz, new Date(), 6);
      // A slot outside market hours would have every order denied (MARKET_HOURS): say so per firing.
      for (const s of upcoming) {
        const open = isMarketOpen(s.at) ? 'market open: orders can fill' : 'market closed: orders would be denied (MARKET_HOURS)';
        process.stdout.write(`next: ${s.slot} (${s.at}) ${open}\n`);
      }
      if (opts.dryRun) return;
      const { createBroker, JobQueue, openDb } = await sessionModules();
      const url = requireDatabaseUrl(ctx.config.secrets.databaseUrl, 'quorum session schedule');
      const queue = await JobQueue.start(url);
      const db = await openDb(ctx.config);
      const notifier = await startNotifications(ctx, db);
      const stopScheduler = await startScheduler(ctx, queue, db, createBroker(ctx.config));
      process.stderr.write('workers run the sessions (quorum worker), or run everything in one process with quorum run\n');
      onShutdown(ctx, async () => {
        stopScheduler();
        await queue.stop();
        await closeNotifications(notifier, 5_000);
        await db.close();
      });
    });

  program
    .command('worker')
    .description('judge proposals and run scheduled sessions from the pg-boss queue (several may run on one PostgreSQL)')
    .option('--concurrency <n>', 'proposals judged at once in this process', '2')
    .action(async (raw: unknown) => {
      const args = parseOrThrow(WorkerArgs, raw, 'quorum worker');
      const ctx = cliContext();
      const { buildSessionEnv, JobQueue, openDb } = await sessionModules();
      const url = requireDatabaseUrl(ctx.config.secrets.databaseUrl, 'quorum worker');
      const db = await openDb(ctx.config);
      const notifier = await startNotifications(ctx, db);
      const built = await buildSessionEnv(db, ctx.config, ctx.log, { exchangeClock: true });
      const queue = await JobQueue.start(url);
      process.stderr.write(`${built.env.backend.notice}\n`);
      await startWorkers(built.env, queue, args.concurrency);
      onShutdown(ctx, async () => {
        // Jobs in flight finish (pg-boss waits up to 10 s); a committee run cut off resumes from its checkpoint.
        await queue.stop();
        await built.close();
        await closeNotifications(notifier, 5_000);
        await db.close();
      });
    });
}
