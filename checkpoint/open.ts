/**
 * Opening the committee's checkpointer: LangGraph's PostgresSaver on PostgreSQL when a URL is known,
 * else our DbCheckpointSaver; and one shared saver per Db for runs given none.
 */
import pg from 'pg';
import type { BaseCheckpointSaver } from '@langchain/langgraph-checkpoint';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { z } from 'zod';
import type { Db } from '../db/index.ts';
import { DbCheckpointSaver } from './saver.ts';

/** A checkpointer and how to release it. */
export interface OpenCheckpointer {
  saver: BaseCheckpointSaver;
  /** `postgres-saver` (LangGraph's) or `db-saver` (ours). */
  kind: 'postgres-saver' | 'db-saver';
  close(): Promise<void>;
}

/** The advisory lock that serialises PostgresSaver.setup() across processes. */
const SETUP_LOCK = 'quorum:langgraph-checkpoint-setup';

/**
 * The checkpointer for `db`: PostgresSaver on PostgreSQL when a connection URL is known (it opens
 * a small pool of its own and creates its tables in the connection's current schema), else
 * DbCheckpointSaver (PGlite, or PostgreSQL without a URL).
 */
export async function openCheckpointer(db: Db, options: { databaseUrl?: string | null; allowExitOnIdle?: boolean } = {}): Promise<OpenCheckpointer> {
  if (db.kind === 'postgres' && options.databaseUrl) {
    const schemaRes = await db.query('SELECT current_schema() AS schema');
    const schema = z.object({ schema: z.string() }).parse(schemaRes.rows[0]).schema;
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2, allowExitOnIdle: options.allowExitOnIdle ?? false });
    pool.on('error', () => undefined);
    const saver = new PostgresSaver(pool, undefined, { schema });
    try {
      // setup() creates its tables and runs its migrations with IF NOT EXISTS; two at once still
      // collide in the catalog (duplicate pg_type rows). A transaction-scoped advisory lock on one
      // of db's connections serialises them, across processes too, while setup runs on the pool.
      await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [SETUP_LOCK]);
        await saver.setup();
      });
    } catch (error) {
      await saver.end().catch(() => undefined);
      throw error;
    }
    return { saver, kind: 'postgres-saver', close: () => saver.end() };
  }
  // The committee's reducers build new lists and never change a checkpointed value: deltas are safe.
  return { saver: new DbCheckpointSaver(db, { deltas: true }), kind: 'db-saver', close: async () => undefined };
}

const shared = new WeakMap<Db, Map<string, Promise<BaseCheckpointSaver>>>();

/**
 * One checkpointer per Db (and URL), opened and set up on first use: what runCommittee uses when
 * it is given none, so concurrent runs share one saver instead of each opening a pool and racing
 * in setup(). It is never closed: its pool lets the process exit when idle (allowExitOnIdle) and
 * drops idle connections after pg's idle timeout. Long-lived callers (sessions, the API) open
 * their own with openCheckpointer and close it.
 */
export function sharedCheckpointer(db: Db, options: { databaseUrl?: string | null } = {}): Promise<BaseCheckpointSaver> {
  const key = db.kind === 'postgres' && options.databaseUrl ? options.databaseUrl : '';
  let byUrl = shared.get(db);
  if (!byUrl) {
    byUrl = new Map();
    shared.set(db, byUrl);
  }
  const known = byUrl.get(key);
  if (known) return known;
  const opening = openCheckpointer(db, { databaseUrl: options.databaseUrl, allowExitOnIdle: true }).then((o) => o.saver);
  byUrl.set(key, opening);
  // A failed open (database down) is not cached: the next run tries again.
  const map = byUrl;
  opening.catch(() => {
    if (map.get(key) === opening) map.delete(key);
  });
  return opening;
}
