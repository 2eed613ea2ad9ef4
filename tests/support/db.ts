import { randomBytes } from 'node:crypto';
import { openPglite, openPostgres, migrate, type Db } from '../../db/index.ts';

/** TEST_DATABASE_URL, or null; with QUORUM_REQUIRE_PG=1 a missing URL is an error, not a skip. */
export function testDatabaseUrl(): string | null {
  const url = process.env.TEST_DATABASE_URL ?? null;
  if (!url && process.env.QUORUM_REQUIRE_PG === '1') {
    throw new Error('QUORUM_REQUIRE_PG=1 but TEST_DATABASE_URL is not set');
  }
  return url;
}

/** True when PostgreSQL tests should run (they skip only when PG is neither set nor required). */
export const hasPg = testDatabaseUrl() !== null;

export interface TestDb {
  db: Db;
  /** For PostgreSQL: a URL whose connections see the same isolated schema. */
  url: string | null;
  schema: string | null;
  cleanup(): Promise<void>;
}

function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema},public`);
  return u.toString();
}

/** A fresh, migrated PostgreSQL schema of its own (tests run in parallel on one database). */
export async function freshPostgres(options: { migrate?: boolean } = {}): Promise<TestDb> {
  const base = testDatabaseUrl();
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `qt_${randomBytes(5).toString('hex')}`;
  const admin = await openPostgres(base, { poolMax: 1 });
  await admin.exec(`CREATE EXTENSION IF NOT EXISTS vector; CREATE SCHEMA ${schema}`);
  await admin.close();
  const url = withSearchPath(base, schema);
  const db = await openPostgres(url, { poolMax: 4 });
  if (options.migrate ?? true) await migrate(db);
  return {
    db,
    url,
    schema,
    async cleanup() {
      await db.close();
      const a = await openPostgres(base, { poolMax: 1 });
      await a.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await a.close();
    },
  };
}

/** A fresh, migrated in-memory PGlite. */
export async function freshPglite(options: { migrate?: boolean } = {}): Promise<TestDb> {
  const db = await openPglite(null);
  if (options.migrate ?? true) await migrate(db);
  return { db, url: null, schema: null, cleanup: () => db.close() };
}

/** Both backends, for `describe.each`: the same test body runs on PGlite and on PostgreSQL. */
export const BACKENDS = [
  { name: 'PGlite', open: freshPglite, available: true },
  { name: 'PostgreSQL', open: freshPostgres, available: hasPg },
] as const;
