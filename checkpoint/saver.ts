/**
 * Checkpointers for the committee graph, so an interrupted run resumes without repeating finished
 * nodes. On PostgreSQL: LangGraph's own PostgresSaver (its setup() creates its tables in the
 * search_path schema). On PGlite: DbCheckpointSaver, a BaseCheckpointSaver over our Db interface
 * (tables from migration 0030), modelled on LangGraph's MemorySaver.
 */
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
import { z } from 'zod';
import { QuorumError, parseJson } from '../contracts/index.ts';
import { valueGroups, type Db } from '../db/index.ts';
import {
  DELTA_CHECKPOINT_TYPE,
  DeltaCheckpoint,
  FastJsonSerializer,
  MAX_DELTA_CHAIN,
  MAX_REMEMBERED_THREADS,
  applyDelta,
  channelDelta,
  isPlainJson,
} from './delta.ts';

// Bytes are read as hex text (encode in SQL): PGlite's own bytea parser maps every byte through
// parseInt. They are written as binary parameters (db/pglite.ts and node-postgres send a
// Uint8Array as is), half the size of hex and with nothing to decode.
const Hex = z.string().regex(/^[0-9a-f]*$/);
const fromHex = (hex: string): Uint8Array => Buffer.from(hex, 'hex');

const CHECKPOINT_COLUMNS = `thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint_type,
  encode(checkpoint, 'hex') AS checkpoint, metadata_type, encode(metadata, 'hex') AS metadata`;
const RAW_COLUMNS = 'thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint_type, checkpoint, metadata_type, metadata';

/**
 * A checkpoint (chosen by `anchor`, a WHERE clause on graph_checkpoints) and, while the row is a
 * delta checkpoint, its parents: the rows to rebuild it from, the checkpoint first.
 */
const chainSql = (anchor: string): string => `WITH RECURSIVE chain AS (
    SELECT ${RAW_COLUMNS}, 0 AS depth FROM graph_checkpoints WHERE ${anchor}
    UNION ALL
    SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, c.checkpoint_type, c.checkpoint, c.metadata_type, c.metadata, chain.depth + 1
      FROM chain JOIN graph_checkpoints c
        ON c.thread_id = chain.thread_id AND c.checkpoint_ns = chain.checkpoint_ns AND c.checkpoint_id = chain.parent_checkpoint_id
     WHERE chain.checkpoint_type = '${DELTA_CHECKPOINT_TYPE}'
  )
  SELECT ${CHECKPOINT_COLUMNS} FROM chain ORDER BY depth`;

const CheckpointRow = z.object({
  thread_id: z.string(),
  checkpoint_ns: z.string(),
  checkpoint_id: z.string(),
  parent_checkpoint_id: z.string().nullable(),
  checkpoint_type: z.string(),
  checkpoint: Hex,
  metadata_type: z.string(),
  metadata: Hex,
});
type CheckpointRow = z.infer<typeof CheckpointRow>;

const WriteRow = z.object({
  /** True for a row of graph_checkpoint_task_writes (a task's regular writes, packed). */
  packed: z.boolean(),
  task_id: z.string(),
  idx: z.number(),
  channel: z.string(),
  value_type: z.string(),
  value: Hex,
  task_path: z.string(),
});

/** A packed row's writes: [idx, channel, value] in the order the task wrote them. */
const PackedWrites = z.array(z.tuple([z.number().int().min(0), z.string(), z.unknown()]));

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new QuorumError('INPUT_INVALID', `checkpointer: configurable.${field} must be a non-empty string`, { field });
  }
  return value;
}

/** A checkpoint row to store (serialised). */
interface CheckpointInsert {
  threadId: string;
  ns: string;
  id: string;
  parent: string | null;
  cType: string;
  cBytes: Uint8Array;
  mType: string;
  mBytes: Uint8Array;
}

/** A pending write to store (serialised). */
interface WriteInsert {
  threadId: string;
  ns: string;
  checkpointId: string;
  taskId: string;
  idx: number;
  channel: string;
  vType: string;
  vBytes: Uint8Array;
  taskPath: string;
}

/** A task's regular writes, all plain JSON, as one row of graph_checkpoint_task_writes. */
interface PackedWritesInsert {
  threadId: string;
  ns: string;
  checkpointId: string;
  taskId: string;
  taskPath: string;
  /** UTF-8 JSON of [[idx, channel, value], ...]. */
  bytes: Uint8Array;
}

/**
 * Rows a task stores with its writes: appends its values to `params` and returns its INSERT
 * statements (they become data-modifying CTEs of the batch's one statement).
 */
export type TaskRows = (params: unknown[]) => string[];

/**
 * Tells a task's writes (as putWrites receives them: [channel, value] pairs) from the writes of the
 * other tasks of its step, e.g. by the node name and round its update carries.
 */
export type WritesMatcher = (writes: readonly PendingWrite[]) => boolean;

/** Rows waiting for the putWrites of the task whose writes `belongs` recognises. */
interface StagedRows {
  belongs: WritesMatcher;
  rows: TaskRows;
}

/** What one put/putWrites call waits for: its rows, and its promise's settlement. */
interface QueuedSave {
  checkpoints: CheckpointInsert[];
  writes: WriteInsert[];
  packed: PackedWritesInsert[];
  /** A task's own rows (transcript, tool calls) that go with its writes. */
  taskRows: TaskRows[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A LangGraph checkpointer over our Db (PGlite or PostgreSQL), tables graph_checkpoints,
 * graph_checkpoint_writes (one row per write) and graph_checkpoint_task_writes (a task's regular
 * writes in one row: see putWrites).
 *
 * Saves are group-committed: the checkpoints and pending writes handed to it while the previous
 * save is in flight, or within the same turn of the event loop, are stored by one statement, and
 * each caller's promise settles only when that statement has committed. LangGraph issues a step's
 * task writes and the step's checkpoint back to back, so a committee step costs one round trip
 * instead of one per task plus one; nothing is acknowledged before it is stored, so a crash loses
 * no more than it would with one statement per call.
 */
export class DbCheckpointSaver extends BaseCheckpointSaver {
  private queue: QueuedSave[] = [];
  private flushing: Promise<void> | null = null;
  /** Task rows waiting for their task's putWrites, by thread (a step has a few tasks at most). */
  private readonly staged = new Map<string, StagedRows[]>();
  /** Threads the caller made up and nothing was read from yet (see newThread). */
  private readonly newThreads = new Set<string>();
  /** The last checkpoint stored per thread: its namespace, id, channel values and place in a delta chain. */
  private readonly lastStored = new Map<string, { ns: string; id: string; values: Readonly<Record<string, unknown>>; depth: number }>();

  /**
   * With `deltas`, a checkpoint whose parent this saver stored last is stored as the changes to it
   * (see put). The graph's channel values must never be changed in place once checkpointed (the
   * committee's reducers build new lists; openCheckpointer turns deltas on for it).
   */
  private readonly deltas: boolean;

  constructor(
    private readonly db: Db,
    options: { serde?: SerializerProtocol; deltas?: boolean } = {},
  ) {
    super(options.serde ?? new FastJsonSerializer());
    this.deltas = options.deltas ?? false;
  }

  private async pendingWrites(threadId: string, ns: string, checkpointId: string): Promise<CheckpointPendingWrite[]> {
    const res = await this.db.query(
      `SELECT false AS packed, task_id, idx, channel, value_type, encode(value, 'hex') AS value, task_path FROM graph_checkpoint_writes
        WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3
       UNION ALL
       SELECT true, task_id, 0, '', 'json', encode(writes, 'hex'), task_path FROM graph_checkpoint_task_writes
        WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3`,
      [threadId, ns, checkpointId],
    );
    const writes: Array<{ taskId: string; idx: number; channel: string; taskPath: string; value: () => Promise<unknown> }> = [];
    const perRow = new Set<string>();
    const packed: Array<z.infer<typeof WriteRow>> = [];
    for (const raw of res.rows) {
      const r = WriteRow.parse(raw);
      if (r.packed) {
        packed.push(r);
        continue;
      }
      perRow.add(`${r.task_id}\u0000${r.idx}`);
      writes.push({
        taskId: r.task_id,
        idx: r.idx,
        channel: r.channel,
        taskPath: r.task_path,
        value: () => this.serde.loadsTyped(r.value_type, fromHex(r.value)),
      });
    }
    for (const r of packed) {
      const text = Buffer.from(r.value, 'hex').toString('utf8');
      const json = parseJson(text);
      const list = json.ok ? PackedWrites.safeParse(json.value) : null;
      if (!list?.success) {
        throw new QuorumError(
          'INTERNAL',
          `checkpointer: the packed writes of task ${r.task_id} (checkpoint ${checkpointId}) are not [[idx, channel, value], ...]`,
          { field: 'graph_checkpoint_task_writes.writes' },
        );
      }
      // A write also stored as its own row (by an earlier version, for the same task) keeps that row.
      for (const [idx, channel, value] of list.data) {
        if (!perRow.has(`${r.task_id}\u0000${idx}`)) writes.push({ taskId: r.task_id, idx, channel, taskPath: r.task_path, value: async () => value });
      }
    }
    // LangGraph's own comparator: SQL collation order may differ from code-point order.
    writes.sort((a, b) => compareWritesSortKeys(writesSortKey(a.taskPath, a.taskId, a.idx), writesSortKey(b.taskPath, b.taskId, b.idx)));
    return Promise.all(writes.map(async (w): Promise<CheckpointPendingWrite> => [w.taskId, w.channel, await w.value()]));
  }

  /** The checkpoint of `chain` (the rows of chainSql: the checkpoint, then its parents while they are deltas). */
  private async checkpointOf(chain: readonly CheckpointRow[]): Promise<Checkpoint> {
    const head = chain[0];
    const base = chain.at(-1);
    if (!head || !base) throw new QuorumError('INTERNAL', 'checkpointer: no checkpoint row to read');
    if (base.checkpoint_type === DELTA_CHECKPOINT_TYPE) {
      throw new QuorumError(
        'INTERNAL',
        `checkpointer: checkpoint ${base.checkpoint_id} is stored as changes to checkpoint ${base.parent_checkpoint_id ?? '(none)'}, which is not stored`,
        {
          field: 'graph_checkpoints.parent_checkpoint_id',
        },
      );
    }
    const full = (await this.serde.loadsTyped(base.checkpoint_type, fromHex(base.checkpoint))) as Checkpoint;
    let values: Record<string, unknown> = full.channel_values;
    let checkpoint = full;
    for (let i = chain.length - 2; i >= 0; i--) {
      const row = chain[i];
      if (!row) continue;
      const json = parseJson(Buffer.from(row.checkpoint, 'hex').toString('utf8'));
      const parsed = json.ok ? DeltaCheckpoint.safeParse(json.value) : null;
      if (!parsed?.success) {
        throw new QuorumError('INTERNAL', `checkpointer: checkpoint ${row.checkpoint_id} is not a readable delta checkpoint`, {
          field: 'graph_checkpoints.checkpoint',
        });
      }
      const { channel_delta: delta, ...rest } = parsed.data;
      values = applyDelta(values, delta, row.checkpoint_id);
      checkpoint = { ...(rest as Omit<Checkpoint, 'channel_values'>), channel_values: values };
    }
    return checkpoint;
  }

  private async toTuple(chain: readonly CheckpointRow[]): Promise<CheckpointTuple> {
    const row = chain[0];
    if (!row) throw new QuorumError('INTERNAL', 'checkpointer: no checkpoint row to read');
    const checkpoint = await this.checkpointOf(chain);
    const metadata = (await this.serde.loadsTyped(row.metadata_type, fromHex(row.metadata))) as CheckpointMetadata;
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

  /** The rows to rebuild checkpoint `id` from (chainSql). */
  private async chain(threadId: string, ns: string, id: string): Promise<CheckpointRow[]> {
    const res = await this.db.query(chainSql('thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3'), [threadId, ns, id]);
    return res.rows.map((r) => CheckpointRow.parse(r));
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = requireString(config.configurable?.thread_id, 'thread_id');
    const ns = typeof config.configurable?.checkpoint_ns === 'string' ? config.configurable.checkpoint_ns : '';
    const checkpointId = getCheckpointId(config);
    // A thread id the caller just made up has no checkpoint: LangGraph's first read needs no query.
    if (this.newThreads.delete(threadId) && !checkpointId) return undefined;
    // A read waits for the saves handed in before it (read-your-writes, as with one statement per call).
    await this.settled();
    const rows = checkpointId
      ? await this.chain(threadId, ns, checkpointId)
      : // Checkpoint ids are uuid6: their text order is their time order (MemorySaver relies on it too).
        (
          await this.db.query(
            chainSql(
              `thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = (SELECT max(checkpoint_id) FROM graph_checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2)`,
            ),
            [threadId, ns],
          )
        ).rows.map((r) => CheckpointRow.parse(r));
    return rows.length > 0 ? this.toTuple(rows) : undefined;
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
    await this.settled();
    const sql = `SELECT ${CHECKPOINT_COLUMNS} FROM graph_checkpoints ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY thread_id, checkpoint_ns, checkpoint_id DESC`;
    const res = await this.db.query(sql, params);
    let remaining = options?.limit;
    for (const raw of res.rows) {
      const row = CheckpointRow.parse(raw);
      const tuple = await this.toTuple(
        row.checkpoint_type === DELTA_CHECKPOINT_TYPE ? await this.chain(row.thread_id, row.checkpoint_ns, row.checkpoint_id) : [row],
      );
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

  /**
   * Stores a checkpoint. With `deltas`, when its parent is the last checkpoint this saver stored
   * for the thread (in this process), it is stored as the changes to the parent's channel values
   * (a DELTA_CHECKPOINT_TYPE row): a committee run's state only grows, so each step stores what it
   * added instead of the whole state again (about 30 of a run's 47 kB, 1-1.5 ms per run on
   * PGlite). Otherwise, after MAX_DELTA_CHAIN deltas in a row, or when a new value is not plain
   * JSON, the checkpoint is stored whole by the serializer. Reads rebuild a delta from its parents.
   */
  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata): Promise<RunnableConfig> {
    const threadId = requireString(config.configurable?.thread_id, 'thread_id');
    const ns = typeof config.configurable?.checkpoint_ns === 'string' ? config.configurable.checkpoint_ns : '';
    const parent = typeof config.configurable?.checkpoint_id === 'string' ? config.configurable.checkpoint_id : null;
    this.newThreads.delete(threadId);
    const last = this.lastStored.get(threadId);
    const { channel_values: values, ...rest } = copyCheckpoint(checkpoint);
    const delta =
      this.deltas && last && last.ns === ns && last.id === parent && last.depth < MAX_DELTA_CHAIN && isPlainJson(rest)
        ? channelDelta(last.values, values)
        : null;
    const [[cType, cBytes], [mType, mBytes]] = await Promise.all([
      delta
        ? ([DELTA_CHECKPOINT_TYPE, Buffer.from(JSON.stringify({ ...rest, channel_delta: delta }))] as [string, Uint8Array])
        : this.serde.dumpsTyped({ ...rest, channel_values: values }),
      this.serde.dumpsTyped(metadata),
    ]);
    this.lastStored.delete(threadId);
    await this.save([{ threadId, ns, id: checkpoint.id, parent, cType, cBytes, mType, mBytes }], [], []);
    // Remembered only once stored: a delta's parent is always in the database.
    this.lastStored.set(threadId, { ns, id: checkpoint.id, values: checkpoint.channel_values, depth: delta && last ? last.depth + 1 : 0 });
    if (this.lastStored.size > MAX_REMEMBERED_THREADS) {
      const oldest = this.lastStored.keys().next().value;
      if (oldest !== undefined) this.lastStored.delete(oldest);
    }
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = requireString(config.configurable?.thread_id, 'thread_id');
    const checkpointId = requireString(config.configurable?.checkpoint_id, 'checkpoint_id');
    const ns = typeof config.configurable?.checkpoint_ns === 'string' ? config.configurable.checkpoint_ns : '';
    const path = taskPath ?? '';
    const indexed = writes.map(([channel, value], i) => ({ idx: WRITES_IDX_MAP[channel] ?? i, channel, value }));
    // The task's regular writes (idx >= 0) go in one row when every value is plain JSON (all of the
    // committee's); special writes (errors, interrupts), and values JSON cannot hold, one row each.
    const regular = indexed.filter((w) => w.idx >= 0);
    const pack = regular.length > 0 && regular.every((w) => isPlainJson(w.value));
    const packed: PackedWritesInsert[] = pack
      ? [{ threadId, ns, checkpointId, taskId, taskPath: path, bytes: Buffer.from(JSON.stringify(regular.map((w) => [w.idx, w.channel, w.value]))) }]
      : [];
    const rows = await Promise.all(
      indexed
        .filter((w) => !pack || w.idx < 0)
        .map(async (w): Promise<WriteInsert> => {
          const [vType, vBytes] = await this.serde.dumpsTyped(w.value);
          return { threadId, ns, checkpointId, taskId, idx: w.idx, channel: w.channel, vType, vBytes, taskPath: path };
        }),
    );
    const staged = this.takeStaged(threadId, writes);
    if (rows.length > 0 || packed.length > 0 || staged) await this.save([], rows, packed, staged ? [staged.rows] : []);
  }

  /**
   * Hands a task's own rows (its transcript and tool calls) to the saver: they are stored in the
   * statement that stores the task's writes, so a task's rows exist exactly when its result does.
   * A crash before that statement loses both, and the resumed run runs the task again and stores
   * them once; a crash after it keeps both, and the task is not run again.
   *
   * The task is found by its writes (`belongs`), not by its task id: LangGraph passes putWrites the
   * task id, but gives a node its own id only under a private config key (`__pregel_task_id`), while
   * a node's returned update reaching putWrites as its [channel, value] writes is the public
   * contract of BaseCheckpointSaver. Rows of a thread that no write claimed are dropped by endRun.
   */
  attachToWrites(threadId: string, belongs: WritesMatcher, rows: TaskRows): void {
    const list = this.staged.get(threadId);
    if (list) list.push({ belongs, rows });
    else this.staged.set(threadId, [{ belongs, rows }]);
  }

  /** The staged rows of the task that wrote `writes`, taken off the thread's list. */
  private takeStaged(threadId: string, writes: readonly PendingWrite[]): StagedRows | undefined {
    const list = this.staged.get(threadId);
    if (!list) return undefined;
    const i = list.findIndex((s) => s.belongs(writes));
    if (i < 0) return undefined;
    const [found] = list.splice(i, 1);
    if (list.length === 0) this.staged.delete(threadId);
    return found;
  }

  /** Staged rows no write has claimed yet, for `threadId` (0 after a run whose every task finished). */
  stagedCount(threadId: string): number {
    return this.staged.get(threadId)?.length ?? 0;
  }

  /**
   * Says `threadId` is new (the caller made it up; nothing can be stored under it): the first
   * getTuple of the thread then answers "no checkpoint" without asking the database. Only that
   * first read: every later read, and any read of a given checkpoint id, queries as usual.
   */
  newThread(threadId: string): void {
    this.newThreads.add(threadId);
  }

  /**
   * The end of a run on `threadId`, whatever its outcome: drops the rows of tasks whose writes were
   * never handed over (the run failed or was interrupted first; those tasks run again on resume
   * and attach their rows then) and a newThread mark no read used.
   */
  endRun(threadId: string): void {
    this.newThreads.delete(threadId);
    this.lastStored.delete(threadId);
    this.staged.delete(threadId);
  }

  /** Queues rows for the next group commit; resolves when they are stored. */
  private save(checkpoints: CheckpointInsert[], writes: WriteInsert[], packed: PackedWritesInsert[], taskRows: TaskRows[] = []): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ checkpoints, writes, packed, taskRows, resolve, reject });
      // setImmediate: let the calls LangGraph makes in this turn (a step's writes and its checkpoint) join.
      this.flushing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.flush());
    });
  }

  /** Resolves when every save queued so far has settled. */
  private async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.store(batch);
        for (const q of batch) q.resolve();
      } catch (error) {
        for (const q of batch) q.reject(error);
      }
    }
    this.flushing = null;
  }

  /** One statement for a batch: data-modifying CTEs commit together or not at all. */
  private async store(batch: readonly QueuedSave[]): Promise<void> {
    // Keys repeat within a batch only if a caller repeats itself; resolve them as separate calls
    // would: a checkpoint's last version wins, a task's regular writes keep their first value
    // (a retried task must not change them; packed, the task's first call wins whole), a special
    // write (negative idx) keeps its last.
    const checkpoints = new Map<string, CheckpointInsert>();
    const regular = new Map<string, WriteInsert>();
    const special = new Map<string, WriteInsert>();
    const packed = new Map<string, PackedWritesInsert>();
    for (const q of batch) {
      for (const c of q.checkpoints) checkpoints.set(JSON.stringify([c.threadId, c.ns, c.id]), c);
      for (const p of q.packed) {
        const key = JSON.stringify([p.threadId, p.ns, p.checkpointId, p.taskId]);
        if (!packed.has(key)) packed.set(key, p);
      }
      for (const w of q.writes) {
        const key = JSON.stringify([w.threadId, w.ns, w.checkpointId, w.taskId, w.idx]);
        if (w.idx < 0) special.set(key, w);
        else if (!regular.has(key)) regular.set(key, w);
      }
    }
    const params: unknown[] = [];
    // Task rows first: they only insert, and nothing below reads them.
    const parts: string[] = batch.flatMap((q) => q.taskRows.flatMap((rows) => rows(params)));
    const writeCasts = ['', '', '', '', '::int', '', '', '::bytea', ''];
    const writeRow = (w: WriteInsert): unknown[] => [w.threadId, w.ns, w.checkpointId, w.taskId, w.idx, w.channel, w.vType, w.vBytes, w.taskPath];
    const writeCols = 'thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, value_type, value, task_path';
    if (regular.size > 0) {
      parts.push(`INSERT INTO graph_checkpoint_writes (${writeCols}) VALUES ${valueGroups([...regular.values()].map(writeRow), params, writeCasts)}
        ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO NOTHING`);
    }
    if (packed.size > 0) {
      const rows = [...packed.values()].map((p) => [p.threadId, p.ns, p.checkpointId, p.taskId, p.taskPath, p.bytes]);
      parts.push(`INSERT INTO graph_checkpoint_task_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, writes)
        VALUES ${valueGroups(rows, params, ['', '', '', '', '', '::bytea'])}
        ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id) DO NOTHING`);
    }
    if (special.size > 0) {
      parts.push(`INSERT INTO graph_checkpoint_writes (${writeCols}) VALUES ${valueGroups([...special.values()].map(writeRow), params, writeCasts)}
        ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET
          channel = EXCLUDED.channel, value_type = EXCLUDED.value_type, value = EXCLUDED.value, task_path = EXCLUDED.task_path`);
    }
    if (checkpoints.size > 0) {
      const rows = [...checkpoints.values()].map((c) => [c.threadId, c.ns, c.id, c.parent, c.cType, c.cBytes, c.mType, c.mBytes]);
      parts.push(`INSERT INTO graph_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint_type, checkpoint, metadata_type, metadata)
        VALUES ${valueGroups(rows, params, ['', '', '', '', '', '::bytea', '', '::bytea'])}
        ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
          parent_checkpoint_id = EXCLUDED.parent_checkpoint_id, checkpoint_type = EXCLUDED.checkpoint_type,
          checkpoint = EXCLUDED.checkpoint, metadata_type = EXCLUDED.metadata_type, metadata = EXCLUDED.metadata`);
    }
    const last = parts.at(-1);
    if (last === undefined) return;
    const before = parts.slice(0, -1);
    const sql = before.length === 0 ? last : `WITH ${before.map((p, i) => `s${i} AS (${p})`).join(', ')} ${last}`;
    await this.db.query(sql, params);
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.settled();
    this.lastStored.delete(threadId);
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM graph_checkpoint_writes WHERE thread_id = $1', [threadId]);
      await tx.query('DELETE FROM graph_checkpoint_task_writes WHERE thread_id = $1', [threadId]);
      await tx.query('DELETE FROM graph_checkpoints WHERE thread_id = $1', [threadId]);
    });
  }
}
