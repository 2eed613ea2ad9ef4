import type { Command } from 'commander';
import { z } from 'zod';
import { QuorumError, parseOrThrow } from '../../contracts/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';

export function registerToken(program: Command): void {
  const token = program.command('token').description('API bearer tokens (stored hashed; shown once)');
  token
    .command('create')
    .description('create a token with the read or control scope')
    .requiredOption('--scope <scope>', 'read | control')
    .option('--name <name>', 'a label for the token', 'cli')
    .option('--json', 'print as JSON')
    .action(async (raw: unknown) => {
      // The API and database modules load on use, so the CLI starts fast.
      const { createApiToken, createTokenThroughServer, readServeFile, TokenScope } = await import('../../api/index.ts');
      const { readDirLock, pgliteDir } = await import('../../db/index.ts');
      const CreateOptions = z.object({ scope: TokenScope, name: z.string().min(1).max(100), json: z.boolean().optional() }).strict();
      const opts = parseOrThrow(CreateOptions, raw, 'quorum token create');
      const ctx = cliContext();
      let created: { id: string; token: string };
      let via: string | null = null;
      try {
        created = await withDb(ctx, (db) => createApiToken(db, opts.name, opts.scope));
      } catch (error) {
        // The embedded database is owned by a running `quorum serve`: ask it (api/local-admin.ts).
        const owner = QuorumError.is(error, 'DB_LOCKED') ? readDirLock(pgliteDir(ctx.config)) : null;
        const serve = readServeFile(ctx.config.dataDir);
        if (!owner || !serve || serve.pid !== owner.pid) throw error;
        created = await createTokenThroughServer(serve, { scope: opts.scope, name: opts.name });
        via = `created through quorum serve (pid ${serve.pid}, ${serve.url}), which owns the embedded database`;
      }
      if (opts.json) printJson({ ...created, scope: opts.scope, name: opts.name, via });
      else process.stdout.write(`${created.token}\n(id ${created.id}, scope ${opts.scope}; store it now: only its hash is kept${via ? `; ${via}` : ''})\n`);
    });
  token
    .command('list')
    .description('list tokens (never their values)')
    .action(async () => {
      const ctx = cliContext();
      const rows = await withDb(ctx, (db) => db.query('SELECT id, name, scope, created_at, revoked_at FROM api_tokens ORDER BY created_at'));
      printJson(rows.rows);
    });
  token
    .command('revoke <id>')
    .description('revoke a token by id')
    .action(async (id: string) => {
      const ctx = cliContext();
      const { revokeApiToken } = await import('../../api/index.ts');
      const done = await withDb(ctx, (db) => revokeApiToken(db, id));
      process.stdout.write(done ? `revoked ${id}\n` : `no live token ${id}\n`);
      if (!done) process.exitCode = 1;
    });
}
