import type { Command } from 'commander';
import { cliContext, printJson } from '../context.ts';

export function registerDb(program: Command): void {
  const db = program.command('db').description('database maintenance');
  db.command('migrate')
    .description('apply pending SQL migrations (PostgreSQL when DATABASE_URL is set, else PGlite in the data dir)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const ctx = cliContext();
      const { migrate, openDb, pgliteDir } = await import('../../db/index.ts');
      const handle = await openDb(ctx.config, { migrate: false });
      try {
        const result = await migrate(handle);
        const where = handle.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : `PGlite at ${pgliteDir(ctx.config)}`;
        if (opts.json) {
          printJson({ database: handle.kind, applied: result.applied.map((m) => `${m.version}_${m.name}`), alreadyApplied: result.alreadyApplied });
        } else {
          for (const m of result.applied) process.stdout.write(`applied ${String(m.version).padStart(4, '0')}_${m.name}\n`);
          process.stdout.write(`${where}: ${result.applied.length} applied, ${result.alreadyApplied} already applied\n`);
        }
      } finally {
        await handle.close();
      }
    });
}
