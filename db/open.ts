import path from 'node:path';
import { QuorumError, errorMessage } from '../contracts/errors.ts';
import type { Config } from '../config/index.ts';
import type { Db } from './db.ts';
import { migrate } from './migrate.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';

export interface OpenDbOptions {
  /** Apply pending migrations after opening (default true). */
  migrate?: boolean;
}

/** Where the embedded database lives under the data directory. */
export function pgliteDir(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'pglite');
}

/** PostgreSQL when DATABASE_URL is set, else PGlite under the data directory. */
export async function openDb(config: Pick<Config, 'dataDir' | 'secrets' | 'settings'>, options: OpenDbOptions = {}): Promise<Db> {
  let db: Db;
  const url = config.secrets.databaseUrl;
  if (url) {
    try {
      db = await openPostgres(url, {
        poolMax: config.settings.database.poolMax,
        statementTimeoutMs: config.settings.database.statementTimeoutMs,
      });
    } catch (error) {
      // The message of a connection error never includes the URL (it may hold a password).
      throw new QuorumError('DB_UNAVAILABLE', `cannot connect to PostgreSQL (DATABASE_URL): ${errorMessage(error)}`, {}, { cause: error });
    }
  } else {
    db = await openPglite(pgliteDir(config));
  }
  if (options.migrate ?? true) await migrate(db);
  return db;
}
