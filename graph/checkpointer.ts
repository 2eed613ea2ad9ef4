/**
 * Checkpointers for the committee graph, so an interrupted run resumes without repeating finished
 * nodes. On PostgreSQL: LangGraph's own PostgresSaver (its setup() creates its tables in the
 * search_path schema). On PGlite: DbCheckpointSaver, a BaseCheckpointSaver over our Db interface
 * (tables from migration 0030), modelled on LangGraph's MemorySaver.
 */
import pg from 'pg';
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  BaseCheckpointSaver,
  WRITES_IDX_MAP,
  compareWritesSortKeys,
  copyCheckpoint,
  getCheckpointId,
  writesSortKey,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from '@langchain/langgraph-checkpoint';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { z } from 'zod';
import { QuorumError } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';

const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytea');

const CheckpointRow = z.object({
  thread_id: z.string(),
  checkpoint_ns: z.string(),
  checkpoint_id: z.string(),
  parent_checkpoint_id: z.string().nullable(),
  checkpoint_type: z.string(),
  checkpoint: Bytes,
  metadata_type: z.string(),
  metadata: Bytes,
});
type CheckpointRow = z.infer<typeof CheckpointRow>;

const WriteRow = z.object({
  task_id: z.string(),
  idx: z.number(),
  channel: z.string(),
  value_type: z.string(),
  value: Bytes,
  task_path: z.string(),
});

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new QuorumError('INPUT_INVALID', `checkpointer: configurable.${field} must be a non-empty string`, { field });
  }
  return value;
}

/** A LangGraph checkpointer over our Db (PGlite or PostgreSQL), tables graph_checkpoints(+_writes). */
export class DbCheckpointSaver extends BaseCheckpointSaver {
  constructor(
    private readonly db: Db,
    serde?: SerializerProtocol,
  ) {
    super(serde);
  }

  private async pendingWrites(threadId: string, ns: string, checkpointId: string): Promise<CheckpointPendingWrite[]> {
    const res = await this.db.query(
      `SELECT task_id, idx, channel, value_type, value, task_path FROM graph_checkpoint_writes
        WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3`,
      [threadId, ns, checkpointId],
    );
    const rows = res.rows.map((r) => WriteRow.parse(r));
    // LangGraph's own comparator: SQL collation order may differ from code-point order.
    rows.sort((a, b) => compareWritesSortKeys(writesSortKey(a.task_path, a.task_id, a.idx), writesSortKey(b.task_path, b.task_id, b.idx)));
    return Promise.all(rows.map(async (r): Promise<CheckpointPendingWrite> => [r.task_id, r.channel, await this.serde.loadsTyped(r.value_type, r.value)]));
  }

  private async toTuple(row: CheckpointRow): Promise<CheckpointTuple> {
    const checkpoint = (await this.serde.loadsTyped(row.checkpoint_type, row.checkpoint)) as Checkpoint;
    const metadata = (await this.serde.loadsTyped(row.metadata_type, row.metadata)) as CheckpointMetadata;
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: row.thread_id, checkpoint_ns: row.checkpoint_ns, checkpoint_id: row.checkpoint_id } },
      checkpoint,
      metadata,
      pendingWrites: await this.pendingWrites(row.thread_id, row.checkpoint_ns, row.checkpoint_id),
    };
    if (row.parent_checkpoint_id !== null) {
      tuple.parentConfig = { configurable: { thread_id: row.thread_id, checkpoint_ns: row.checkpoint_ns, checkpoint_id: row.parent_checkpoint_id } };
    }
    return tuple;
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = requireString(config.configurable?.thread_id, 'thread_id');
    const ns = typeof config.configurable?.checkpoint_ns === 'string' ? config.configurable.checkpoint_ns : '';
    const checkpointId = getCheckpointId(config);
    const res = checkpointId
      ? await this.db.query('SELECT * FROM graph_checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3', [threadId, ns, checkpointId])
      : // Checkpoint ids are uuid6: their text order is their time order (MemorySaver relies on it too).
        await this.db.query('SELECT * FROM graph_checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2 ORDER BY checkpoint_id DESC LIMIT 1', [threadId, ns]);
    const row = res.rows[0];
    return row ? this.toTuple(CheckpointRow.parse(row)) : undefined;
  }

  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    const c = config.configurable;
    if (typeof c?.thread_id === 'string') add('thread_id = ?', c.thread_id);
    if (typeof c?.checkpoint_ns === 'string') add('checkpoint_ns = ?', c.checkpoint_ns);
    if (typeof c?.checkpoint_id === 'string') add('checkpoint_id = ?', c.checkpoint_id);
    const before = options?.before?.configurable?.checkpoint_id;
    if (typeof before === 'string') add('checkpoint_id < ?', before);
    const sql = `SELECT * FROM graph_checkpoints ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY thread_id, checkpoint_ns, checkpoint_id DESC`;
    const res = await this.db.query(sql, params);
    let remaining = options?.limit;
    for (const raw of res.rows) {
      const tuple = await this.toTuple(CheckpointRow.parse(raw));
      const filter = options?.filter;
      if (filter) {
        const meta = (tuple.metadata ?? {}) as Record<string, unknown>;
        if (!Object.entries(filter).every(([k, v]) => meta[k] === v)) continue;
      }
      if (remaining !== undefined) {
        if (remaining <= 0) break;
        remaining -= 1;
      }
      yield tuple;
    }
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata): Promise<RunnableConfig> {
    const threadId = requireString(config.configurable?.thread_id, 'thread_id');
    const ns = typeof config.configurable?.checkpoint_ns === 'string' ? config.configurable.checkpoint_ns : '';
    const parent = typeof config.configurable?.checkpoint_id === 'string' ? config.configurable.checkpoint_id : null;
    const [[cType, cBytes], [mType, mBytes]] = await Promise.all([this.serde.dumpsTyped(copyCheckpoint(checkpoint)), this.serde.dumpsTyped(metadata)]);
    await this.db.query(
      `INSERT INTO graph_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint_type, checkpoint, metadata_type, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
         parent_checkpoint_id = EXCLUDED.parent_checkpoint_id, checkpoint_type = EXCLUDED.checkpoint_type,
         checkpoint = EXCLUDED.checkpoint, metadata_type = EXCLUDED.metadata_type, metadata = EXCLUDED.metadata`,
      [threadId, ns, checkpoint.id, parent, cType, Buffer.from(cBytes), mType, Buffer.from(mBytes)],
    );
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = requireString(config.configurable?.thread_id, 'thread_id');
    const checkpointId = requireString(config.configurable?.checkpoint_id, 'checkpoint_id');
    const ns = typeof config.configurable?.checkpoint_ns === 'string' ? config.configurable.checkpoint_ns : '';
    const serialised = await Promise.all(writes.map(async ([channel, value], i) => ({ channel, idx: WRITES_IDX_MAP[channel] ?? i, typed: await this.serde.dumpsTyped(value) })));
    // Regular writes are stored once (a retried task must not change them); special writes (errors,
    // interrupts: negative idx) replace the earlier one, as in MemorySaver. One statement each kind.
    const insert = async (rows: typeof serialised, conflict: string): Promise<void> => {
      if (rows.length === 0) return;
      const params: unknown[] = [];
      const values = rows.map((w, i) => {
        params.push(threadId, ns, checkpointId, taskId, w.idx, w.channel, w.typed[0], Buffer.from(w.typed[1]), taskPath ?? '');
        const o = i * 9;
        return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}, $${o + 8}, $${o + 9})`;
      });
      await this.db.query(
        `INSERT INTO graph_checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, value_type, value, task_path)
         VALUES ${values.join(', ')}
         ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) ${conflict}`,
        params,
      );
    };
    await insert(serialised.filter((w) => w.idx >= 0), 'DO NOTHING');
    await insert(
      serialised.filter((w) => w.idx < 0),
      'DO UPDATE SET channel = EXCLUDED.channel, value_type = EXCLUDED.value_type, value = EXCLUDED.value, task_path = EXCLUDED.task_path',
    );
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM graph_checkpoint_writes WHERE thread_id = $1', [threadId]);
      await tx.query('DELETE FROM graph_checkpoints WHERE thread_id = $1', [threadId]);
    });
  }
}

/** A checkpointer and how to release it. */
export interface OpenCheckpointer {
  saver: BaseCheckpointSaver;
  /** `postgres-saver` (LangGraph's) or `db-saver` (ours). */
  kind: 'postgres-saver' | 'db-saver';
  close(): Promise<void>;
}

/**
 * The checkpointer for `db`: PostgresSaver on PostgreSQL when a connection URL is known (it opens
 * a small pool of its own and creates its tables in the connection's current schema), else
 * DbCheckpointSaver (PGlite, or PostgreSQL without a URL).
 */
export async function openCheckpointer(db: Db, options: { databaseUrl?: string | null } = {}): Promise<OpenCheckpointer> {
  if (db.kind === 'postgres' && options.databaseUrl) {
    const schemaRes = await db.query('SELECT current_schema() AS schema');
    const schema = z.object({ schema: z.string() }).parse(schemaRes.rows[0]).schema;
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
    pool.on('error', () => undefined);
    const saver = new PostgresSaver(pool, undefined, { schema });
    await saver.setup();
    return { saver, kind: 'postgres-saver', close: () => saver.end() };
  }
  return { saver: new DbCheckpointSaver(db), kind: 'db-saver', close: async () => undefined };
}
