import { z } from 'zod';
import type { Queryable, Row } from './db.ts';

/**
 * Building blocks of read-model row schemas (the folders that own the tables define the rows).
 * Both drivers return timestamptz as Date, so a timestamp column is parsed into an ISO string: a
 * read model's output is plain JSON, ready for the API and the CLI, and its zod schema documents it.
 */
const toIso = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : v);

/** A timestamptz column, read as an ISO 8601 string. */
export const TimestampColumn = z.preprocess(toIso, z.string());
/** A nullable timestamptz column, read as an ISO 8601 string or null. */
export const NullableTimestampColumn = z.preprocess(toIso, z.string().nullable());

/**
 * A jsonb column whose shape the owning stage keeps (stats, raw broker replies, model cards): every
 * kind of JSON value. Spelled out rather than `z.json()`, which the OpenAPI generator cannot walk.
 */
export const JsonColumn = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown())]);
export type JsonColumn = z.infer<typeof JsonColumn>;

/** Runs a query and parses every row with `schema`. */
export async function queryRows<S extends z.ZodType>(q: Queryable, schema: S, sql: string, params: unknown[] = []): Promise<z.output<S>[]> {
  const res = await q.query(sql, params);
  return res.rows.map((row: Row) => schema.parse(row));
}

/** Runs a query and parses its first row with `schema`, or returns null when there is none. */
export async function queryRow<S extends z.ZodType>(q: Queryable, schema: S, sql: string, params: unknown[] = []): Promise<z.output<S> | null> {
  const res = await q.query(sql, params);
  const row = res.rows[0];
  return row ? schema.parse(row) : null;
}
