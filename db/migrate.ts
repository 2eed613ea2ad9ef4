import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QuorumError, errorMessage } from '../contracts/errors.ts';
import type { Db } from './db.ts';

/** db/migrations/: NNNN_name.sql, applied in number order. */
export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: Migration[];
  alreadyApplied: number;
}

// Any constant; it serialises concurrent migrators on one PostgreSQL.
const MIGRATION_LOCK = 727_001;

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<number>();
  return files.map((file) => {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new QuorumError('MIGRATION_FAILED', `migration file name must be NNNN_name.sql: ${file}`, { file });
    const version = Number(match[1]);
    if (seen.has(version)) throw new QuorumError('MIGRATION_FAILED', `two migrations share number ${version}: ${file}`, { file });
    seen.add(version);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    return { version, name: match[2] ?? file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

/**
 * Applies pending migrations, each in its own transaction, recording it in schema_migrations.
 * Idempotent: a second run applies nothing. A migration edited after it was applied is refused.
 * (A small runner of our own: the kept migration libraries speak only to node-postgres, not PGlite.)
 */
export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<MigrateResult> {
  const migrations = readMigrations(dir);
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied: Migration[] = [];
  let alreadyApplied = 0;
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const existing = await tx.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = $1', [m.version]);
      const row = existing.rows[0];
      if (row) {
        if (row.checksum !== m.checksum) {
          throw new QuorumError(
            'MIGRATION_FAILED',
            `migration ${m.version}_${m.name} was changed after it was applied (checksum differs); add a new migration instead`,
            { version: m.version },
          );
        }
        return false;
      }
      try {
        await tx.exec(m.sql);
      } catch (error) {
        throw new QuorumError('MIGRATION_FAILED', `migration ${m.version}_${m.name} failed: ${errorMessage(error)}`, { version: m.version }, { cause: error });
      }
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      return true;
    });
    if (done) applied.push(m);
    else alreadyApplied++;
  }
  return { applied, alreadyApplied };
}
