import type { RunnableConfig } from '@langchain/core/runnables';
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import { emptyCheckpoint } from '@langchain/langgraph-checkpoint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELTA_CHECKPOINT_TYPE, DbCheckpointSaver, openCheckpointer, type WritesMatcher } from '../../checkpoint/index.ts';
import type { Db } from '../../db/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';

/** `db` with a log of the statements sent through it (transactions count as their statements). */
function counting(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    db: {
      kind: db.kind,
      query: (sql, params) => {
        statements.push(sql);
        return db.query(sql, params);
      },
      exec: (sql) => db.exec(sql),
      transaction: (fn) => db.transaction(fn),
      close: () => db.close(),
    },
  };
}

const State = Annotation.Root({
  log: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

describe.each(BACKENDS)('DbCheckpointSaver on $name', ({ open, available }) => {
  let shared: TestDb | null = null;
  let t: TestDb | null = null;
  // One database per backend; every test uses its own thread id.
  beforeAll(async () => {
    if (available) shared = await open();
  });
  afterAll(async () => {
    await shared?.cleanup();
  });

  it.skipIf(!available)('stores, lists and deletes checkpoints with their pending writes', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const saver = new DbCheckpointSaver(t.db);
    const cfg = { configurable: { thread_id: 'th-1', checkpoint_ns: '' } };
    const first = { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000001' };
    const second = { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000002', channel_values: { log: ['a'] } };
    const c1 = await saver.put(cfg, first, { source: 'input', step: -1, parents: {} });
    const c2 = await saver.put(c1, second, { source: 'loop', step: 0, parents: {} });
    await saver.putWrites(
      c2,
      [
        ['log', ['b']],
        ['other', 1],
      ],
      'task-1',
      'path-1',
    );
    // A retried task's regular writes are kept as first stored.
    await saver.putWrites(c2, [['log', ['changed']]], 'task-1', 'path-1');

    const latest = await saver.getTuple(cfg);
    expect(latest?.checkpoint.id).toBe(second.id);
    expect(latest?.checkpoint.channel_values).toEqual({ log: ['a'] });
    expect(latest?.parentConfig?.configurable?.checkpoint_id).toBe(first.id);
    expect(latest?.pendingWrites).toEqual([
      ['task-1', 'log', ['b']],
      ['task-1', 'other', 1],
    ]);
    const listed = [];
    for await (const c of saver.list(cfg)) listed.push(c.checkpoint.id);
    expect(listed).toEqual([second.id, first.id]);
    const before = [];
    for await (const c of saver.list(cfg, { before: c2 })) before.push(c.checkpoint.id);
    expect(before).toEqual([first.id]);
    const loops = [];
    for await (const c of saver.list(cfg, { filter: { source: 'loop' } })) loops.push(c.checkpoint.id);
    expect(loops).toEqual([second.id]);

    await saver.deleteThread('th-1');
    expect(await saver.getTuple(cfg)).toBeUndefined();
  });

  it.skipIf(!available)('lets a failed graph resume from its last checkpoint without re-running finished nodes', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const calls = { a: 0, b: 0, c: 0 };
    let failB = true;
    const graph = new StateGraph(State)
      .addNode('a', () => {
        calls.a++;
        return { log: ['a'] };
      })
      .addNode('b', () => {
        calls.b++;
        if (failB) throw new Error('b crashed');
        return { log: ['b'] };
      })
      .addNode('c', () => {
        calls.c++;
        return { log: ['c'] };
      })
      .addEdge(START, 'a')
      .addEdge('a', 'b')
      .addEdge('b', 'c')
      .addEdge('c', END)
      .compile({ checkpointer: new DbCheckpointSaver(t.db) });
    const cfg = { configurable: { thread_id: 'th-resume' } };
    await expect(graph.invoke({ log: [] }, cfg)).rejects.toThrow('b crashed');
    failB = false;
    const out = await graph.invoke(null, cfg);
    expect(out.log).toEqual(['a', 'b', 'c']);
    expect(calls).toEqual({ a: 1, b: 2, c: 1 });
  });

  it.skipIf(!available)('stores the writes and the checkpoint handed in together with one statement, and each call settles when stored', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const { db, statements } = counting(t.db);
    const saver = new DbCheckpointSaver(db);
    const cfg = { configurable: { thread_id: 'th-group', checkpoint_ns: '' } };
    const first = { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000011' };
    const c1 = await saver.put(cfg, first, { source: 'input', step: -1, parents: {} });
    statements.length = 0;
    // As LangGraph does at the end of a step: each task's writes, then the next checkpoint, unawaited.
    const second = { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000012', channel_values: { log: ['a', 'b'] } };
    const saves = [
      saver.putWrites(c1, [['log', ['a']]], 'task-a', 'p-a'),
      saver.putWrites(
        c1,
        [
          ['log', ['b']],
          ['__error__', 'boom'],
        ],
        'task-b',
        'p-b',
      ),
      saver.putWrites(c1, [['__error__', 'boom again']], 'task-b', 'p-b'),
      saver.put(c1, second, { source: 'loop', step: 0, parents: {} }),
    ];
    await Promise.all(saves);
    expect(statements.filter((s) => /INSERT/.test(s))).toHaveLength(1);
    const stored = await saver.getTuple({ configurable: { ...c1.configurable } });
    // A special write (negative idx) keeps the last value handed in, as separate statements would.
    expect(stored?.pendingWrites).toEqual([
      ['task-a', 'log', ['a']],
      ['task-b', '__error__', 'boom again'],
      ['task-b', 'log', ['b']],
    ]);
    expect((await saver.getTuple(cfg))?.checkpoint.channel_values).toEqual({ log: ['a', 'b'] });
  });

  it.skipIf(!available)("stores a task's plain-JSON writes as one row and anything else one row per write, and reads back what was written", async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const saver = new DbCheckpointSaver(t.db);
    const cfg = { configurable: { thread_id: 'th-pack', checkpoint_ns: '' } };
    const c1 = await saver.put(cfg, { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000051' }, { source: 'input', step: -1, parents: {} });
    const opinion = { role: 'bull', claims: [{ text: 'a "quoted" claim \u00e9', evidence: ['tool:1'] }], confidence: 0.25, round: 1 };
    await saver.putWrites(
      c1,
      [
        ['opinions', [opinion]],
        ['round', 1],
        ['verdict', null],
        ['__error__', 'late'],
      ],
      'task-json',
      'p-1',
    );
    // A value JSON cannot hold as it is (undefined; LangGraph's serializer keeps it) makes the task's writes one row each.
    await saver.putWrites(
      c1,
      [
        ['maybe', undefined],
        ['n', 2],
        ['list', [1, 2]],
      ],
      'task-other',
      'p-2',
    );
    const rows = async (table: string, task: string): Promise<number> => {
      const res = await t!.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE thread_id = 'th-pack' AND task_id = $1`, [task]);
      return res.rows[0]?.n ?? -1;
    };
    expect({ packed: await rows('graph_checkpoint_task_writes', 'task-json'), single: await rows('graph_checkpoint_writes', 'task-json') }).toEqual({
      packed: 1,
      single: 1,
    });
    expect({ packed: await rows('graph_checkpoint_task_writes', 'task-other'), single: await rows('graph_checkpoint_writes', 'task-other') }).toEqual({
      packed: 0,
      single: 3,
    });
    const stored = await saver.getTuple(c1);
    expect(stored?.pendingWrites).toEqual([
      ['task-json', '__error__', 'late'],
      ['task-json', 'opinions', [opinion]],
      ['task-json', 'round', 1],
      ['task-json', 'verdict', null],
      ['task-other', 'maybe', undefined],
      ['task-other', 'n', 2],
      ['task-other', 'list', [1, 2]],
    ]);
    // A write also stored as its own row (as an earlier version stored every write) keeps that row.
    await t.db.query(
      `INSERT INTO graph_checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, value_type, value, task_path)
       VALUES ('th-pack', '', $1, 'task-json', 1, 'round', 'json', convert_to('7', 'UTF8'), 'p-1')`,
      [c1.configurable?.checkpoint_id],
    );
    expect((await saver.getTuple(c1))?.pendingWrites?.filter(([task, ch]) => task === 'task-json' && ch === 'round')).toEqual([['task-json', 'round', 7]]);
    // A packed row that is not [[idx, channel, value], ...] is refused by name, not half read.
    await t.db.query(
      `INSERT INTO graph_checkpoint_task_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, writes) VALUES ('th-pack', '', $1, 'task-bad', 'p-3', convert_to('[["round", 1]]', 'UTF8'))`,
      [c1.configurable?.checkpoint_id],
    );
    await expect(saver.getTuple(c1)).rejects.toThrow(/graph_checkpoint_task_writes|packed writes of task task-bad/);
    await saver.deleteThread('th-pack');
    expect(await rows('graph_checkpoint_task_writes', 'task-bad')).toBe(0);
  });

  it.skipIf(!available)('stores a checkpoint as the changes to its parent (deltas on), and reads every checkpoint back as it was put', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const db = t.db;
    const saver = new DbCheckpointSaver(db, { deltas: true });
    const cfg = { configurable: { thread_id: 'th-delta', checkpoint_ns: '' } };
    const op = (n: number) => ({ role: `agent-${n}`, claims: [{ text: `claim ${n} "quoted" \u00e9`, evidence: [`tool:${n}`] }], confidence: n / 10 });
    const log1 = [op(1)];
    const log2 = log1.concat([op(2)]);
    const log3 = log2.concat([op(3), op(4)]);
    const verdict = { decision: 'REDUCE', size: 0.5 };
    const puts = [
      { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000061', channel_values: { log: log1, round: 0 } },
      { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000062', channel_values: { log: log2, round: 1, verdict } },
      // `verdict` is gone, `round` changes, two items are added, `extra` is new.
      { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000063', channel_values: { log: log3, round: 2, extra: ['x'] } },
      // A list that is not the parent's plus items (reordered) is stored as it is.
      { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000064', channel_values: { log: [...log3].reverse(), round: 2, extra: ['x'] } },
    ];
    let config: RunnableConfig = cfg;
    for (const [i, cp] of puts.entries())
      config = await saver.put(config, { ...cp, channel_versions: { log: i + 1 } }, { source: 'loop', step: i, parents: {} });
    const types = await db.query<{ checkpoint_type: string }>(
      `SELECT checkpoint_type FROM graph_checkpoints WHERE thread_id = 'th-delta' ORDER BY checkpoint_id`,
    );
    expect(types.rows.map((r) => r.checkpoint_type)).toEqual(['json', DELTA_CHECKPOINT_TYPE, DELTA_CHECKPOINT_TYPE, DELTA_CHECKPOINT_TYPE]);
    // The third stores only what it added: far less than its whole state.
    const sizes = await db.query<{ n: number }>(`SELECT octet_length(checkpoint) AS n FROM graph_checkpoints WHERE checkpoint_id = $1`, [puts[2]?.id]);
    expect(sizes.rows[0]?.n).toBeLessThan(JSON.stringify(puts[2]).length);
    for (const [i, cp] of puts.entries()) {
      const read = await saver.getTuple({ configurable: { ...cfg.configurable, checkpoint_id: cp.id } });
      expect(read?.checkpoint).toEqual({ ...cp, channel_versions: { log: i + 1 } });
    }
    expect((await saver.getTuple(cfg))?.checkpoint.channel_values).toEqual(puts[3]?.channel_values);
    const listed = [];
    for await (const c of saver.list(cfg)) listed.push(c.checkpoint.channel_values);
    expect(listed).toEqual(puts.map((p) => p.channel_values).reverse());
    // Another saver (another process) never stored the parent: it stores the next one whole.
    const other = new DbCheckpointSaver(db, { deltas: true });
    await other.put(
      config,
      { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000065', channel_values: { log: log3 } },
      { source: 'loop', step: 4, parents: {} },
    );
    // A value JSON cannot hold as it is makes the checkpoint whole too; deltas are off by default.
    await saver.put(
      config,
      { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000066', channel_values: { log: log3, maybe: undefined } },
      { source: 'loop', step: 4, parents: {} },
    );
    const plain = new DbCheckpointSaver(db);
    const p1 = await plain.put({ configurable: { thread_id: 'th-delta-off', checkpoint_ns: '' } }, { ...puts[0]! }, { source: 'loop', step: 0, parents: {} });
    await plain.put(p1, { ...puts[1]! }, { source: 'loop', step: 1, parents: {} });
    const later = await db.query<{ checkpoint_id: string; checkpoint_type: string }>(
      `SELECT checkpoint_id, checkpoint_type FROM graph_checkpoints WHERE checkpoint_id IN ('1ef00000-0000-6000-8000-000000000065', '1ef00000-0000-6000-8000-000000000066') OR thread_id = 'th-delta-off' ORDER BY thread_id, checkpoint_id`,
    );
    expect(later.rows.map((r) => r.checkpoint_type)).toEqual(['json', 'json', 'json', 'json']);
    // A delta whose parent is gone is refused by name, not rebuilt from nothing.
    await db.query(`DELETE FROM graph_checkpoints WHERE thread_id = 'th-delta' AND checkpoint_id = $1`, [puts[0]?.id]);
    await expect(saver.getTuple({ configurable: { ...cfg.configurable, checkpoint_id: puts[2]?.id } })).rejects.toThrow(/not stored/);
  });

  it.skipIf(!available)('stores a whole checkpoint after a run of deltas, so a read never walks far', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const saver = new DbCheckpointSaver(t.db, { deltas: true });
    let config: RunnableConfig = { configurable: { thread_id: 'th-chain', checkpoint_ns: '' } };
    let log: number[] = [];
    for (let i = 0; i < 40; i++) {
      log = log.concat([i]);
      const id = `1ef00000-0000-6000-8000-${String(100 + i).padStart(12, '0')}`;
      config = await saver.put(config, { ...emptyCheckpoint(), id, channel_values: { log } }, { source: 'loop', step: i, parents: {} });
    }
    const full = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM graph_checkpoints WHERE thread_id = 'th-chain' AND checkpoint_type <> $1`, [
      DELTA_CHECKPOINT_TYPE,
    ]);
    expect(full.rows[0]?.n).toBe(3);
    expect((await saver.getTuple({ configurable: { thread_id: 'th-chain', checkpoint_ns: '' } }))?.checkpoint.channel_values).toEqual({
      log: Array.from({ length: 40 }, (_, i) => i),
    });
  });

  it.skipIf(!available)('rejects every call of a batch that fails, and stores none of it', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const saver = new DbCheckpointSaver(t.db);
    const cfg = { configurable: { thread_id: 'th-fail', checkpoint_ns: '' } };
    const first = { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000021' };
    // A NUL character cannot be stored in a text column: the whole statement fails.
    const bad = saver.put({ configurable: { thread_id: 'th-fail', checkpoint_ns: '', checkpoint_id: 'parent\u0000' } }, first, {
      source: 'input',
      step: -1,
      parents: {},
    });
    const good = saver.putWrites({ configurable: { ...cfg.configurable, checkpoint_id: first.id } }, [['log', ['x']]], 'task-x');
    await expect(bad).rejects.toThrow();
    await expect(good).rejects.toThrow();
    expect(await saver.getTuple(cfg)).toBeUndefined();
    const writes = await t.db.query(
      `SELECT ((SELECT count(*) FROM graph_checkpoint_writes WHERE thread_id = 'th-fail') + (SELECT count(*) FROM graph_checkpoint_task_writes WHERE thread_id = 'th-fail'))::int AS n`,
    );
    expect(writes.rows[0]).toEqual({ n: 0 });
  });

  it.skipIf(!available)("stores a task's attached rows in the statement of its writes, and drops those of a task whose writes never came", async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const { db, statements } = counting(t.db);
    const saver = new DbCheckpointSaver(db);
    await t.db.exec(`CREATE TABLE IF NOT EXISTS attached_rows (task text, note text)`);
    const rows = (task: string) => (params: unknown[]) => {
      params.push(task, `note of ${task}`);
      return [`INSERT INTO attached_rows (task, note) VALUES ($${params.length - 1}, $${params.length})`];
    };
    const cfg = { configurable: { thread_id: 'th-attach', checkpoint_ns: '' } };
    const c1 = await saver.put(cfg, { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000031' }, { source: 'input', step: -1, parents: {} });
    const logs =
      (entry: string): WritesMatcher =>
      (writes) =>
        writes.some(([channel, value]) => channel === 'log' && Array.isArray(value) && value[0] === entry);
    saver.attachToWrites('th-attach', logs('a'), rows('task-a'));
    saver.attachToWrites('th-attach', logs('lost'), rows('task-lost'));
    // Writes no staged rows claim store nothing of them.
    await saver.putWrites(c1, [['log', ['other']]], 'task-other');
    expect(saver.stagedCount('th-attach')).toBe(2);
    statements.length = 0;
    await saver.putWrites(c1, [['log', ['a']]], 'task-a');
    // One statement: the writes and the task's rows.
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/attached_rows[\s\S]*graph_checkpoint_task_writes/);
    expect(saver.stagedCount('th-attach')).toBe(1);
    saver.endRun('th-attach');
    expect(saver.stagedCount('th-attach')).toBe(0);
    await saver.putWrites(c1, [['log', ['lost']]], 'task-lost');
    const stored = await t.db.query<{ task: string }>(`SELECT task FROM attached_rows ORDER BY task`);
    expect(stored.rows).toEqual([{ task: 'task-a' }]);
  });

  it.skipIf(!available)(
    "hands each of two parallel tasks its own attached rows, through LangGraph's public flow only (a node's update reaches putWrites as its writes)",
    async () => {
      t = shared;
      if (!t) throw new Error('no database');
      await t.db.exec(`CREATE TABLE IF NOT EXISTS attached_rows (task text, note text)`);
      const saver = new DbCheckpointSaver(t.db);
      const threadId = 'th-attach-graph';
      const insert = (task: string) => (params: unknown[]) => {
        params.push(task, threadId);
        return [`INSERT INTO attached_rows (task, note) VALUES ($${params.length - 1}, $${params.length})`];
      };
      const node = (name: string) => async () => {
        // What graph/ does: rows claimed by the writes that carry this node's own entry.
        saver.attachToWrites(
          threadId,
          (writes) => writes.some(([channel, value]) => channel === 'log' && Array.isArray(value) && value[0] === name),
          insert(name),
        );
        await new Promise((resolve) => setTimeout(resolve, name === 'left' ? 5 : 0));
        return { log: [name] };
      };
      const graph = new StateGraph(State)
        .addNode('left', node('left'))
        .addNode('right', node('right'))
        .addEdge(START, 'left')
        .addEdge(START, 'right')
        .addEdge('left', END)
        .addEdge('right', END)
        .compile({ checkpointer: saver });
      const out = await graph.invoke({ log: [] }, { configurable: { thread_id: threadId }, durability: 'sync' });
      expect([...out.log].sort()).toEqual(['left', 'right']);
      expect(saver.stagedCount(threadId)).toBe(0);
      const stored = await t.db.query<{ task: string }>(`SELECT task FROM attached_rows WHERE note = $1 ORDER BY task`, [threadId]);
      expect(stored.rows).toEqual([{ task: 'left' }, { task: 'right' }]);
      saver.endRun(threadId);
    },
  );

  it.skipIf(!available)('answers the first read of a thread marked new without a query, and every later read from the database', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const { db, statements } = counting(t.db);
    const saver = new DbCheckpointSaver(db);
    const cfg = { configurable: { thread_id: 'th-new', checkpoint_ns: '' } };
    saver.newThread('th-new');
    expect(await saver.getTuple(cfg)).toBeUndefined();
    expect(statements).toHaveLength(0);
    await saver.put(cfg, { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000041' }, { source: 'input', step: -1, parents: {} });
    expect((await saver.getTuple(cfg))?.checkpoint.id).toBe('1ef00000-0000-6000-8000-000000000041');
    // A mark no read used is dropped with the run: a thread that has checkpoints is always read.
    saver.newThread('th-new');
    saver.endRun('th-new');
    expect((await saver.getTuple(cfg))?.checkpoint.id).toBe('1ef00000-0000-6000-8000-000000000041');
  });

  it.skipIf(!available)('picks LangGraph’s PostgresSaver on PostgreSQL when a URL is known, ours otherwise', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const cp = await openCheckpointer(t.db, { databaseUrl: t.url });
    try {
      expect(cp.kind).toBe(t.db.kind === 'postgres' ? 'postgres-saver' : 'db-saver');
      if (t.db.kind === 'postgres') {
        // setup() created its tables in the connection's own schema, not in public.
        const tables = await t.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'checkpoints'`,
        );
        expect(tables.rows[0]).toEqual({ n: 1 });
      }
    } finally {
      await cp.close();
    }
  });
});
