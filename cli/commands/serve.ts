import type { Command } from 'commander';
import { z } from 'zod';
import { parseOrThrow } from '../../contracts/index.ts';
import { cliContext } from '../context.ts';

const ServeArgs = z
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
      const args = parseOrThrow(ServeArgs, raw, 'quorum serve');
      const ctx = cliContext();
      const { serve } = await import('@hono/node-server');
      const { createApp, newLocalKey, writeServeFile } = await import('../../api/index.ts');
      const { openDb } = await import('../../db/index.ts');
      const { buildSessionEnv } = await import('../../sessions/index.ts');
      const db = await openDb(ctx.config);
      const built = await buildSessionEnv(db, ctx.config, ctx.log);
      process.stderr.write(`${built.env.backend.notice}\n`);
      // With the embedded database this process is its only user; `quorum token create` asks it through serve.json.
      const localKey = db.kind === 'pglite' ? newLocalKey() : undefined;
      const app = createApp({ db, config: ctx.config, log: ctx.log, session: built.env, localKey });
      const host = args.host ?? ctx.config.settings.api.host;
      const port = args.port ?? ctx.config.settings.api.port;
      let removeServeFile = (): void => {};
      const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => {
        const url = `http://${host.includes(':') ? `[${host}]` : host}:${info.port}`;
        if (localKey) removeServeFile = writeServeFile(ctx.config.dataDir, { pid: process.pid, url, key: localKey });
        ctx.log.info({ host, port: info.port, database: db.kind }, 'quorum API listening');
        process.stderr.write(`quorum API on ${url} (database: ${db.kind}); OpenAPI at ${url}/openapi.json\n`);
      });
      server.once('error', (error: NodeJS.ErrnoException) => {
        process.stderr.write(`quorum: cannot listen on ${host}:${port}: ${error.code ?? error.message}\n`);
        void built.close().then(() => db.close()).finally(() => process.exit(1));
      });
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        removeServeFile();
        server.close(() => void built.close().then(() => db.close()).finally(() => process.exit(0)));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
