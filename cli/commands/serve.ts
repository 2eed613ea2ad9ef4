import { serve } from '@hono/node-server';
import type { Command } from 'commander';
import { createApp } from '../../api/index.ts';
import { openDb } from '../../db/index.ts';
import { buildSessionEnv } from '../../sessions/index.ts';
import { cliContext } from '../context.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API (settings.yaml api.host / api.port)')
    .action(async () => {
      const ctx = cliContext();
      const db = await openDb(ctx.config);
      const built = await buildSessionEnv(db, ctx.config, ctx.log);
      process.stderr.write(`${built.env.backend.notice}\n`);
      const app = createApp({ db, config: ctx.config, log: ctx.log, session: built.env });
      const { host, port } = ctx.config.settings.api;
      const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => {
        ctx.log.info({ host, port: info.port, database: db.kind }, 'quorum API listening');
        process.stderr.write(`quorum API on http://${host}:${info.port} (database: ${db.kind}); OpenAPI at /openapi.json\n`);
      });
      const stop = (): void => {
        server.close(() => void built.close().then(() => db.close()).finally(() => process.exit(0)));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
