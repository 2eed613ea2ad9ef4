import type { Command } from 'commander';
import { z } from 'zod';
import { parseOrThrow } from '../../contracts/index.ts';
import { cliContext } from '../context.ts';
import { closeNotifications, onShutdown, startApiServer, startNotifications } from '../services.ts';

export const ListenArgs = z
  .object({
    host: z.string().min(1).max(255).optional(),
    port: z.coerce.number().int().min(0).max(65_535).optional(),
  })
  .strict();

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API (default settings.yaml api.host / api.port)')
    .option('--host <host>', 'address to listen on (settings.yaml api.host)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (settings.yaml api.port)')
    .action(async (raw: unknown) => {
      const args = parseOrThrow(ListenArgs, raw, 'quorum serve');
      const ctx = cliContext();
      const { openDb } = await import('../../db/index.ts');
      const { buildSessionEnv } = await import('../../sessions/index.ts');
      const db = await openDb(ctx.config);
      const notifier = await startNotifications(ctx, db);
      // On the embedded database serve owns the data dir, so no `quorum paper-exchange` can run beside it:
      // the paper exchange runs here (on a free port), and sessions and approvals started through the API reach it.
      const exec = ctx.config.settings.execution;
      const { startPaperExchange } = await import('../../execution/index.ts');
      const exchange =
        db.kind === 'pglite' && exec.broker === 'paper-exchange' && exec.mode !== 'live'
          ? await startPaperExchange({ db, settings: exec.paperExchange, port: 0 })
          : null;
      if (exchange) process.stderr.write(`paper exchange: ${exchange.url} (in-process)\n`);
      const built = await buildSessionEnv(db, ctx.config, ctx.log, exchange ? { paperExchangeUrl: exchange.url, exchangeClock: true } : {});
      process.stderr.write(`${built.env.backend.notice}\n`);
      const host = args.host ?? ctx.config.settings.api.host;
      const port = args.port ?? ctx.config.settings.api.port;
      const server = await startApiServer(ctx, db, built.env, { host, port }).catch(async (error: unknown) => {
        await built.close();
        await exchange?.close();
        await notifier.stop();
        await db.close();
        throw error;
      });
      onShutdown(ctx, async () => {
        await server.close();
        await built.close();
        await exchange?.close();
        await closeNotifications(notifier, 5_000);
        await db.close();
      });
    });
}
