import { mkdirSync, rmSync } from 'node:fs';
import { PGlite, messages, parse as pgliteParse, protocol, type Results, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type { Db, Queryable, QueryResult, Row } from './db.ts';
import { acquireDirLock } from './lock.ts';
import { defaultTemplateDir, isNewCluster, readTemplate, writeTemplate } from './pglite-template.ts';

function toResult<R extends Row>(res: Results<R>): QueryResult<R> {
  // PGlite reports affectedRows 0 for a SELECT; node-postgres counts the rows returned.
  return { rows: res.rows, rowCount: res.affectedRows || res.rows.length };
}

/** A transaction's queries: PGlite's own path; a schema change in it empties the parameter-type cache. */
function wrapTransaction(tx: Transaction, fast: OneCallQuery): Queryable {
  return {
    async query<R extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
      if (!DML.test(sql) && mayChangeSchema(sql)) fast.forget();
      return toResult(await tx.query<R>(sql, params as unknown[]));
    },
    async exec(sql: string): Promise<void> {
      if (mayChangeSchema(sql)) fast.forget();
      await tx.exec(sql);
    },
  };
}

const MAX_CACHED_STATEMENTS = 500;
const BYTEA_OID = 17;
// Statements whose parameter types may be cached: they read or write rows, they do not change the schema.
const DML = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
// Statements that can change what a prepared statement was made for (its tables' and types'
// definitions): a DDL keyword at the start of a line or after a semicolon, strings and comments
// included. Dropping the prepared statements too often only costs a re-prepare; keeping them
// after such a change would not be safe. SET (searchNews runs SET LOCAL in every search), SHOW
// and transaction control do not: PostgreSQL itself re-plans when search_path changes.
const SCHEMA_CHANGE = /(^|;)\s*(CREATE|ALTER|DROP|DO|TRUNCATE|COMMENT|GRANT|REVOKE|SECURITY|IMPORT|REINDEX|CLUSTER|REFRESH|LOAD|DISCARD|DEALLOCATE)\b/im;
const mayChangeSchema = (sql: string): boolean => SCHEMA_CHANGE.test(sql);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * PGlite's `query` outside a transaction, in one call into the database instead of six, and
 * parsed and planned once per statement text.
 *
 * PGlite runs a parameterised statement as Parse, Describe, Bind, Describe, Execute and Sync, each
 * its own call into the WASM backend, so it can serialise each parameter by its inferred type, and
 * PostgreSQL parses and plans the statement on every run. Here the first run of a statement text
 * prepares it under a name of its own (Parse + Describe + Sync: the parameter types) and every run
 * is one batch of Bind, Describe, Execute and Sync on that prepared statement. Parameters are
 * serialised by the same PGlite serialisers for the same type ids and the rows parsed by the same
 * parsers, so results and errors are those of `query`. A statement that is not plain DML goes
 * through `query`; one that can change the schema (DDL, in `query`, `exec` or a transaction)
 * drops the prepared statements (DEALLOCATE ALL before the next prepare).
 */
class OneCallQuery {
  private readonly prepared = new Map<string, { name: string; types: number[] }>();
  private nextName = 0;
  /** Prepared statements exist that no longer match the schema, or the cache was full: drop them first. */
  private stale = false;

  constructor(private readonly pg: PGlite) {}

  forget(): void {
    if (this.prepared.size > 0) this.stale = true;
    this.prepared.clear();
  }

  async query<R extends Row>(sql: string, params: readonly unknown[]): Promise<Results<R>> {
    if (!DML.test(sql)) {
      if (mayChangeSchema(sql)) this.forget();
      return this.pg.query<R>(sql, params as unknown[]);
    }
    await this.pg._checkReady();
    // The same mutexes as PGlite's query: not inside another caller's transaction, not interleaved.
    return this.pg._runExclusiveTransaction(() =>
      this.pg._runExclusiveQuery(async () => {
        try {
          const statement = await this.prepare(sql);
          const values = params.map((p, i) => {
            if (p === null || p === undefined) return null;
            const oid = statement.types[i] ?? 0;
            // Bytes for a bytea parameter go as they are (binary format); PGlite's serialiser would
            // send them as hex text built one byte at a time. The stored value is the same.
            if (oid === BYTEA_OID && p instanceof Uint8Array) return p;
            const serialize = this.pg.serializers[oid];
            return serialize ? serialize(p) : String(p);
          });
          const S = protocol.serialize;
          const batch = concat([S.bind({ statement: statement.name, values }), S.describe({ type: 'P' }), S.execute({}), S.sync()]);
          const replies = await this.pg.execProtocolStream(batch, { syncToFs: false });
          await this.pg.syncToFs();
          const [result] = pgliteParse.parseResults(replies, this.pg.parsers);
          return (result ?? { rows: [], fields: [] }) as Results<R>;
        } catch (error) {
          // What PGlite's query adds to a database error.
          if (error instanceof messages.DatabaseError) Object.assign(error, { query: sql, params: [...params] });
          throw error;
        }
      }),
    );
  }

  private async prepare(sql: string): Promise<{ name: string; types: number[] }> {
    const known = this.prepared.get(sql);
    if (known) return known;
    const S = protocol.serialize;
    if (this.prepared.size >= MAX_CACHED_STATEMENTS) this.forget();
    if (this.stale) {
      await this.pg.execProtocolStream(S.query('DEALLOCATE ALL'), { syncToFs: false });
      this.stale = false;
    }
    const name = `quorum_${++this.nextName}`;
    const replies = await this.pg.execProtocolStream(concat([S.parse({ name, text: sql }), S.describe({ type: 'S', name }), S.sync()]), { syncToFs: false });
    const statement = { name, types: pgliteParse.parseDescribeStatementResults(replies) };
    this.prepared.set(sql, statement);
    return statement;
  }
}

export interface OpenPgliteOptions {
  /**
   * Where the image of an empty cluster is cached (db/pglite-template.ts); null: always initdb.
   * Default node_modules/.cache/quorum.
   */
  templateDir?: string | null;
}

/** A new cluster from the cached image when there is one, else by initdb (then cached for the next). */
async function createCluster(dir: string | null, templateDir: string | null): Promise<PGlite> {
  const isNew = isNewCluster(dir);
  const image = isNew && templateDir ? readTemplate(templateDir) : null;
  if (image) {
    try {
      return await PGlite.create(dir ?? undefined, { extensions: { vector }, loadDataDir: image });
    } catch {
      // An unreadable image: start again from initdb (and replace the image below).
      if (dir) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
      }
    }
  }
  const pg = await PGlite.create(dir ?? undefined, { extensions: { vector } });
  if (isNew && templateDir) writeTemplate(templateDir, new Uint8Array(await (await pg.dumpDataDir('none')).arrayBuffer()));
  return pg;
}

/**
 * The embedded default: PGlite with pgvector, persisted under `dir` (or in memory when `dir` is null).
 * PGlite is single-connection, so transactions are serialised by PGlite itself. A directory is owned by
 * one process at a time (db/lock.ts): another process opening it gets DB_LOCKED naming the owner.
 */
export async function openPglite(dir: string | null, options: OpenPgliteOptions = {}): Promise<Db> {
  if (dir) mkdirSync(dir, { recursive: true });
  const lock = dir ? acquireDirLock(dir) : null;
  let pg: PGlite;
  try {
    pg = await createCluster(dir, options.templateDir === undefined ? defaultTemplateDir() : options.templateDir);
  } catch (error) {
    lock?.release();
    throw error;
  }
  const fast = new OneCallQuery(pg);
  return {
    kind: 'pglite',
    async query<R extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
      return toResult(await fast.query<R>(sql, params));
    },
    async exec(sql: string): Promise<void> {
      if (mayChangeSchema(sql)) fast.forget();
      await pg.exec(sql);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return pg.transaction((tx) => fn(wrapTransaction(tx, fast)));
    },
    async close(): Promise<void> {
      try {
        await pg.close();
      } finally {
        lock?.release();
      }
    },
  };
}
