import { loadConfig, createLogger, type Config, type Logger } from '../config/index.ts';
import type { Db } from '../db/index.ts';

export interface CliContext {
  config: Config;
  log: Logger;
}

/** Loads config and a logger (to stderr, so stdout stays for tables and --json). */
export function cliContext(): CliContext {
  const config = loadConfig();
  const log = createLogger(config, undefined, { cmd: process.argv[2] ?? '' });
  return { config, log };
}

/** Runs `fn` with a migrated database, closing it afterwards whatever happens. */
export async function withDb<T>(ctx: CliContext, fn: (db: Db) => Promise<T>): Promise<T> {
  // Loaded on use, so commands that need no database (and --help) do not pay for PGlite.
  const { openDb } = await import('../db/index.ts');
  const db = await openDb(ctx.config);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Prints JSON on stdout (the `--json` form of every command). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
