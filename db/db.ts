import pgvector from 'pgvector';
/** A row as the driver returns it: parse it with a zod schema before use. */
export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  rowCount: number;
}

/** What both PGlite and node-postgres can do, inside or outside a transaction. */
export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs several statements without parameters (migrations, DDL). */
  exec(sql: string): Promise<void>;
}

/** One interface over the embedded PGlite and a real PostgreSQL. */
export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** pgvector's text form of a vector, for a `$n::vector` parameter (the pgvector package's own encoder). */
export function toVectorLiteral(values: readonly number[]): string {
  const sql: unknown = pgvector.toSql([...values]);
  if (typeof sql !== 'string') throw new TypeError('pgvector.toSql did not return text');
  return sql;
}

/** A vector read back as text (`embedding::text`), decoded by the pgvector package. */
export function fromVectorLiteral(text: string): number[] {
  const values: unknown = pgvector.fromSql(text);
  if (!Array.isArray(values) || !values.every((v): v is number => typeof v === 'number' && Number.isFinite(v))) {
    throw new TypeError(`not a pgvector vector: ${text.slice(0, 40)}`);
  }
  return values;
}

/**
 * The `($n, …), ($m, …)` groups of a multi-row VALUES list, appending each row's values to `params`
 * (so several statements can share one parameter array); `casts[i]` is added to column i's placeholder.
 */
export function valueGroups(rows: ReadonlyArray<readonly unknown[]>, params: unknown[], casts: readonly string[]): string {
  return rows
    .map((row) => {
      const cells = row.map((value, i) => {
        params.push(value);
        return `$${params.length}${casts[i] ?? ''}`;
      });
      return `(${cells.join(', ')})`;
    })
    .join(', ');
}
