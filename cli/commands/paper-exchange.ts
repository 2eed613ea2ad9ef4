import type { Command } from 'commander';
import { QuorumError } from '../../contracts/index.ts';
import { cliContext, printJson } from '../context.ts';

/** `quorum paper-exchange --port P`: the local Alpaca-compatible paper exchange, until Ctrl-C. */
export function registerPaperExchange(program: Command): void {
  program
    .command('paper-exchange')
    .description('run the local Alpaca-compatible paper exchange (state in the database, fills from stored bars)')
    .option('--port <port>', 'port to listen on (default settings.execution.paperExchange.port; 0 = any free port)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--now <iso>', 'start the simulated clock here on first use (default: the last stored bar)')
    .option('--json', 'print the address as JSON')
    .action(async (opts: { port?: string; host: string; now?: string; json?: boolean }) => {
      const ctx = cliContext();
      const port = opts.port === undefined ? ctx.config.settings.execution.paperExchange.port : Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new QuorumError('INPUT_INVALID', `--port: expected an integer 0-65535, got "${opts.port}"`);
      if (opts.now !== undefined && Number.isNaN(Date.parse(opts.now)))
        throw new QuorumError('INPUT_INVALID', `--now: expected an ISO timestamp, got "${opts.now}"`);
      const { openDb } = await import('../../db/index.ts');
      const { startPaperExchange } = await import('../../execution/index.ts');
      const db = await openDb(ctx.config);
      const running = await startPaperExchange({ db, settings: ctx.config.settings.execution.paperExchange, port, host: opts.host, initialNow: opts.now });
      const now = await running.exchange.now();
      if (opts.json) printJson({ url: running.url, now });
      else process.stdout.write(`paper exchange listening on ${running.url} (simulated now ${now}); POST /v1/sim/advance steps the clock\n`);
      ctx.log.info({ url: running.url, database: db.kind }, 'paper exchange started');
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await running.close();
      await db.close();
    });
}
