import type { Command } from 'commander';
import { z } from 'zod';
import { parseOrThrow } from '../../contracts/index.ts';
import { cliContext } from '../context.ts';
import { closeNotifications, onShutdown, requireDatabaseUrl, startApiServer, startNotifications, startScheduler, startWorkers } from '../services.ts';

const RunArgs = z
  .object({
    host: z.string().min(1).max(255).optional(),
    port: z.coerce.number().int().min(0).max(65_535).optional(),
    workers: z.coerce.number().int().min(1).max(16),
    paperExchange: z.boolean(),
  })
  .strict();

/**
 * `quorum run`: the long-running service (the one docker-compose starts). The scheduler, N queue
 * workers, the intraday exit monitor and the HTTP API in one process on PostgreSQL, and the paper
 * exchange too while it is the broker. SIGTERM stops the scheduler first, then the API, then lets the
 * workers' jobs in flight finish (a committee run cut off resumes from its checkpoint).
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('the service: scheduler, workers, exit monitor and HTTP API in one process (PostgreSQL)')
    .option('--host <host>', 'API address (settings.yaml api.host)')
    .option('--port <port>', 'API port; 0 picks a free one (settings.yaml api.port)')
    .option('--workers <n>', 'proposals judged at once in this process', '2')
    .option('--no-paper-exchange', 'do not run the paper exchange here (one runs as quorum paper-exchange)')
    .action(async (raw: unknown) => {
      const args = parseOrThrow(RunArgs, raw, 'quorum run');
      const ctx = cliContext();
      const url = requireDatabaseUrl(ctx.config.secrets.databaseUrl, 'quorum run');
      const [{ openDb }, { buildSessionEnv, JobQueue }, { startPaperExchange }] = await Promise.all([
        import('../../db/index.ts'),
        import('../../sessions/index.ts'),
        import('../../execution/index.ts'),
      ]);
      const closers: Array<() => Promise<void>> = [];
      const closeAll = async (): Promise<void> => {
        for (const close of closers.splice(0).reverse()) await close();
      };
      let apiUrl: string;
      try {
        const db = await openDb(ctx.config);
        closers.push(() => db.close());
        const notifier = await startNotifications(ctx, db);
        // Closed after everything else, so the last events (a session finished on SIGTERM) go out too.
        closers.push(() => closeNotifications(notifier, 5_000));
        const exec = ctx.config.settings.execution;
        if (args.paperExchange && exec.broker === 'paper-exchange' && exec.mode !== 'live') {
          const exchange = await startPaperExchange({ db, settings: exec.paperExchange, port: exec.paperExchange.port });
          closers.push(() => exchange.close());
          process.stderr.write(`paper exchange: ${exchange.url} (in-process)\n`);
        }
        const built = await buildSessionEnv(db, ctx.config, ctx.log, { exchangeClock: true });
        closers.push(() => built.close());
        process.stderr.write(`${built.env.backend.notice}\n`);
        const queue = await JobQueue.start(url);
        // pg-boss waits up to 10 s for jobs in flight before it closes.
        closers.push(() => queue.stop());
        const server = await startApiServer(ctx, db, built.env, {
          host: args.host ?? ctx.config.settings.api.host,
          port: args.port ?? ctx.config.settings.api.port,
        });
        closers.push(() => server.close());
        apiUrl = server.url;
        await startWorkers(built.env, queue, args.workers);
        const stopScheduler = await startScheduler(ctx, queue, db, built.env.broker);
        closers.push(() => Promise.resolve(stopScheduler()));
      } catch (error) {
        await closeAll();
        throw error;
      }
      process.stderr.write(`quorum run: API ${apiUrl}, ${args.workers} worker(s), scheduler and exit monitor running; SIGTERM stops it cleanly\n`);
      onShutdown(ctx, closeAll);
    });
}
