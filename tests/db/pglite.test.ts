import { afterEach, describe, expect, it } from 'vitest';
import { openPglite, type Db } from '../../db/index.ts';

/** Statements PGlite's session has prepared (db/pglite.ts prepares each DML text once). */
async function prepared(db: Db): Promise<number> {
  const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements`);
  return res.rows[0]?.n ?? -1;
}

describe('PGlite queries (one call, prepared once)', () => {
  let db: Db | null = null;
  afterEach(async () => {
    await db?.close();
    db = null;
  });

  it('returns what PGlite returns for every parameter kind, and the same errors', async () => {
    db = await openPglite(null);
    await db.exec(`CREATE TABLE t (id int PRIMARY KEY, b bool, j jsonb, ts timestamptz, x float8, s text, by bytea, tags text[])`);
    const row = [1, true, '{"a":[1,2]}', new Date('2020-01-01T00:00:00Z'), 1.5, "it's", new Uint8Array([0, 1, 255]), ['x', 'y"z']];
    const inserted = await db.query('INSERT INTO t VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8) RETURNING *', row);
    expect(inserted.rows).toEqual([
      { id: 1, b: true, j: { a: [1, 2] }, ts: new Date('2020-01-01T00:00:00Z'), x: 1.5, s: "it's", by: new Uint8Array([0, 1, 255]), tags: ['x', 'y"z'] },
    ]);
    expect(inserted.rowCount).toBe(1);
    // The same read inside a transaction (PGlite's own path) gives the same rows.
    const direct = await db.query('SELECT * FROM t WHERE id = ANY($1)', [[1, 2]]);
    const inTx = await db.transaction((tx) => tx.query('SELECT * FROM t WHERE id = ANY($1)', [[1, 2]]));
    expect(direct.rows).toEqual(inTx.rows);
    await expect(db.query('INSERT INTO t (id) VALUES ($1)', [1])).rejects.toMatchObject({ code: '23505', query: 'INSERT INTO t (id) VALUES ($1)' });
    // The failed statement left nothing half-open: the next one runs.
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 1 }]);
  });

  it('keeps its prepared statements across SET, and drops them when the schema changes', async () => {
    db = await openPglite(null);
    const d = db;
    await d.exec(`CREATE TABLE t (id int PRIMARY KEY, x int)`);
    await d.query('INSERT INTO t (id, x) VALUES ($1, $2)', [1, 42]);
    const read = () => d.query<{ x: unknown }>('SELECT x FROM t WHERE id = $1', [1]);
    expect((await read()).rows).toEqual([{ x: 42 }]);
    const before = await prepared(d);
    expect(before).toBeGreaterThanOrEqual(2);
    // SET LOCAL in a transaction (as the news search does) changes no table: nothing is re-prepared.
    await d.transaction(async (tx) => {
      await tx.exec('SET LOCAL work_mem = 8192');
      await tx.query('SELECT 1');
    });
    expect((await read()).rows).toEqual([{ x: 42 }]);
    expect(await prepared(d)).toBe(before);
    // A column's type changes: the statements prepared for the old type are dropped and the read
    // sees the new type.
    await d.exec(`ALTER TABLE t ALTER COLUMN x TYPE text USING x::text`);
    expect((await read()).rows).toEqual([{ x: '42' }]);
    // The same in a transaction.
    await d.transaction((tx) => tx.query(`ALTER TABLE t ALTER COLUMN x TYPE int USING x::int`));
    expect((await read()).rows).toEqual([{ x: 42 }]);
  });
});
