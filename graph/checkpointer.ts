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
  JsonPlusSerializer,
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
import { QuorumError, parseJson } from '../contracts/index.ts';
import { valueGroups, type Db } from '../db/index.ts';

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

/**
 * checkpoint_type of a checkpoint stored as the changes to its parent's channel values (see put):
 * UTF-8 JSON of the checkpoint with `channel_delta` in place of `channel_values`.
 */
export const DELTA_CHECKPOINT_TYPE = 'quorum-delta';
/** At most this many delta checkpoints in a row: then a full one, so a read never walks far. */
const MAX_DELTA_CHAIN = 16;
/** Threads whose last checkpoint is kept for deltas; the least recently written are forgotten. */
const MAX_REMEMBERED_THREADS = 256;

/** One channel of a delta checkpoint: [0] as in the parent, [1, items] the parent's array plus items, [2, value] this value. */
const ChannelOp = z.union([z.tuple([z.literal(0)]), z.tuple([z.literal(1), z.array(z.unknown())]), z.tuple([z.literal(2), z.unknown()])]);
type ChannelOp = z.infer<typeof ChannelOp>;
const DeltaCheckpoint = z.looseObject({ channel_delta: z.record(z.string(), ChannelOp) });

/**
 * The changes from `parent` to `values` (a checkpoint's channel values), or null when a new value
 * is not plain JSON (then the checkpoint is stored whole). LangGraph's reducers build a new array
 * from the old one's items (the committee's `outcomes`, `opinions`, … grow by concat), so an array
 * that starts with the very same items as the parent's is stored as the items it adds.
 */
function channelDelta(parent: Readonly<Record<string, unknown>>, values: Readonly<Record<string, unknown>>): Record<string, ChannelOp> | null {
  const delta: Record<string, ChannelOp> = {};
  for (const [channel, value] of Object.entries(values)) {
    const old = Object.hasOwn(parent, channel) ? parent[channel] : undefined;
    if (old !== undefined && value === old) {
      delta[channel] = [0];
    } else if (Array.isArray(value) && Array.isArray(old) && old.length <= value.length && old.every((item, i) => value[i] === item)) {
      const added = value.slice(old.length);
      if (!isPlainJson(added)) return null;
      delta[channel] = [1, added];
    } else {
      if (!isPlainJson(value)) return null;
      delta[channel] = [2, value];
    }
  }
  return delta;
}

/** `parent`'s channel values changed by `delta` (channels not in it are gone, as in LangGraph). */
function applyDelta(parent: Readonly<Record<string, unknown>>, delta: Readonly<Record<string, ChannelOp>>, checkpointId: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [channel, op] of Object.entries(delta)) {
    if (op[0] === 2) {
      values[channel] = op[1];
      continue;
    }
    const old = parent[channel];
    if (op[0] === 0) values[channel] = old;
    else if (Array.isArray(old)) values[channel] = old.concat(op[1]);
    else throw new QuorumError('INTERNAL', `checkpointer: checkpoint ${checkpointId} appends to channel ${channel}, which is not a list in its parent`, { field: 'graph_checkpoints.checkpoint' });
  }
  return values;
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new QuorumError('INPUT_INVALID', `checkpointer: configurable.${field} must be a non-empty string`, { field });
  }
  return value;
}

/** Deepest nesting a value may have to take the plain-JSON path (the committee state is ~6 deep). */
const MAX_PLAIN_DEPTH = 64;

/** True when JSON.stringify writes exactly what `value` holds: no undefined, class instance, or LangChain record. */
function isPlainJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || depth > MAX_PLAIN_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isPlainJson(item, depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  // JsonPlus revives objects with an `lc` marker on load: leave those to it.
  if ('lc' in value) return false;
  for (const item of Object.values(value)) if (!isPlainJson(item, depth + 1)) return false;
  return true;
}

/**
 * LangGraph's JsonPlusSerializer, with a fast path for plain JSON (all of the committee's state):
 * the native JSON.stringify without a replacer, instead of JsonPlus's cycle scan plus a replacer
 * called on every value. The bytes are the same JSON JsonPlus writes for such values (type
 * `json`), so JsonPlus reads them back; anything else (undefined, Map, Uint8Array, Send, …) still
 * goes through JsonPlus.
 */
export class FastJsonSerializer extends JsonPlusSerializer {
  override async dumpsTyped(obj: unknown): Promise<[string, Uint8Array]> {
    if (!(obj instanceof Uint8Array) && isPlainJson(obj)) return ['json', Buffer.from(JSON.stringify(obj))];
    return super.dumpsTyped(obj);
  }
}

const stagedKey = (threadId: string, taskId: string): string => `${threadId}\u0000${taskId}`;

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
  /** Task rows waiting for their task's putWrites, by thread and task id. */
  private readonly staged = new Map<string, { threadId: string; rows: TaskRows }>();
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
      writes.push({ taskId: r.task_id, idx: r.idx, channel: r.channel, taskPath: r.task_path, value: () => this.serde.loadsTyped(r.value_type, fromHex(r.value)) });
    }
    for (const r of packed) {
      const text = Buffer.from(r.value, 'hex').toString('utf8');
      const json = parseJson(text);
      const list = json.ok ? PackedWrites.safeParse(json.value) : null;
      if (!list?.success) {
        throw new QuorumError('INTERNAL', `checkpointer: the packed writes of task ${r.task_id} (checkpoint ${checkpointId}) are not [[idx, channel, value], ...]`, { field: 'graph_checkpoint_task_writes.writes' });
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
      throw new QuorumError('INTERNAL', `checkpointer: checkpoint ${base.checkpoint_id} is stored as changes to checkpoint ${base.parent_checkpoint_id ?? '(none)'}, which is not stored`, {
        field: 'graph_checkpoints.parent_checkpoint_id',
      });
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
        throw new QuorumError('INTERNAL', `checkpointer: checkpoint ${row.checkpoint_id} is not a readable delta checkpoint`, { field: 'graph_checkpoints.checkpoint' });
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
            chainSql(`thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = (SELECT max(checkpoint_id) FROM graph_checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2)`),
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
      const tuple = await this.toTuple(row.checkpoint_type === DELTA_CHECKPOINT_TYPE ? await this.chain(row.thread_id, row.checkpoint_ns, row.checkpoint_id) : [row]);
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
    const delta = this.deltas && last && last.ns === ns && last.id === parent && last.depth < MAX_DELTA_CHAIN && isPlainJson(rest) ? channelDelta(last.values, values) : null;
    const [[cType, cBytes], [mType, mBytes]] = await Promise.all([
      delta ? ([DELTA_CHECKPOINT_TYPE, Buffer.from(JSON.stringify({ ...rest, channel_delta: delta }))] as [string, Uint8Array]) : this.serde.dumpsTyped({ ...rest, channel_values: values }),
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
    const key = stagedKey(threadId, taskId);
    const staged = this.staged.get(key);
    this.staged.delete(key);
    if (rows.length > 0 || packed.length > 0 || staged) await this.save([], rows, packed, staged ? [staged.rows] : []);
  }

  /**
   * Hands a task's own rows (its transcript and tool calls) to the saver: they are stored in the
   * statement that stores the task's writes, so a task's rows exist exactly when its result does.
   * A crash before that statement loses both, and the resumed run runs the task again and stores
   * them once; a crash after it keeps both, and the task is not run again. `taskId` is the one
   * LangGraph gives the node (config.configurable.__pregel_task_id).
   */
  attachToTask(threadId: string, taskId: string, rows: TaskRows): void {
    this.staged.set(stagedKey(threadId, taskId), { threadId, rows });
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
    for (const [key, s] of this.staged) if (s.threadId === threadId) this.staged.delete(key);
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
