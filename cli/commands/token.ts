import type { Command } from 'commander';
import { z } from 'zod';
import { createApiToken, revokeApiToken, TokenScope } from '../../api/index.ts';
import { parseOrThrow } from '../../contracts/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';

const CreateOptions = z.object({ scope: TokenScope, name: z.string().min(1).max(100), json: z.boolean().optional() }).strict();

export function registerToken(program: Command): void {
  const token = program.command('token').description('API bearer tokens (stored hashed; shown once)');
  token
    .command('create')
    .description('create a token with the read or control scope')
    .requiredOption('--scope <scope>', 'read | control')
    .option('--name <name>', 'a label for the token', 'cli')
    .option('--json', 'print as JSON')
    .action(async (raw: unknown) => {
      const opts = parseOrThrow(CreateOptions, raw, 'quorum token create');
      const ctx = cliContext();
      const created = await withDb(ctx, (db) => createApiToken(db, opts.name, opts.scope));
      if (opts.json) printJson({ ...created, scope: opts.scope, name: opts.name });
      else process.stdout.write(`${created.token}\n(id ${created.id}, scope ${opts.scope}; store it now: only its hash is kept)\n`);
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
      const done = await withDb(ctx, (db) => revokeApiToken(db, id));
      process.stdout.write(done ? `revoked ${id}\n` : `no live token ${id}\n`);
      if (!done) process.exitCode = 1;
    });
}
