import { afterEach, describe, expect, it } from 'vitest';
import { appendAudit, bindEmbeddingStore, getEmbeddingStore, migrate, readMigrations, toVectorLiteral } from '../../db/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';

async function schemaFingerprint(t: TestDb): Promise<string> {
  const res = await t.db.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = current_schema() ORDER BY table_name, column_name`,
  );
  const idx = await t.db.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`);
  return JSON.stringify([res.rows, idx.rows]);
}

describe.each(BACKENDS)('migrations on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it.skipIf(!available)('applies every migration once; a second run changes nothing', async () => {
    t = await open({ migrate: false });
    const first = await migrate(t.db);
    expect(first.applied.map((m) => m.version)).toEqual(readMigrations().map((m) => m.version));
    const before = await schemaFingerprint(t);
    const second = await migrate(t.db);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(first.applied.length);
    expect(await schemaFingerprint(t)).toBe(before);
    const tables = await t.db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`);
    const names = tables.rows.map((r) => r.table_name);
    for (const required of [
      'bars',
      'feature_snapshots',
      'models',
      'proposals',
      'news_items',
      'sessions',
      'agent_messages',
      'tool_calls',
      'retrievals',
      'verdicts',
      'risk_decisions',
      'risk_rule_results',
      'order_intents',
      'orders',
      'fills',
      'positions',
      'audit_events',
      'api_tokens',
      'schema_migrations',
    ]) {
      expect(names).toContain(required);
    }
  });

  it.skipIf(!available)('stores vectors, uses the HNSW index and finds the nearest item by cosine distance', async () => {
    t = await open();
    await bindEmbeddingStore(t.db, { model: 'test-3d', dimension: 3 });
    const items: Array<[string, number[]]> = [
      ['oil', [1, 0, 0]],
      ['bank', [0, 1, 0]],
      ['tech', [0, 0, 1]],
      ['oil2', [0.8, 0.6, 0]],
    ];
    for (const [id, vec] of items) {
      await t.db.query(`INSERT INTO news_items (id, source, title, published_at, content_hash, embedding) VALUES ($1, 'test', $1, now(), $1, $2::vector)`, [
        id,
        toVectorLiteral(vec),
      ]);
    }
    const idx = await t.db.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'news_items_embedding_hnsw_idx'`,
    );
    expect(idx.rows[0]?.indexdef).toMatch(/USING hnsw \(embedding vector_cosine_ops\)/);
    const near = await t.db.query<{ id: string; d: number }>(
      `SELECT id, embedding <=> $1::vector AS d FROM news_items ORDER BY embedding <=> $1::vector LIMIT 2`,
      [toVectorLiteral([0.9, 0.1, 0])],
    );
    expect(near.rows.map((r) => r.id)).toEqual(['oil', 'oil2']);
    expect(near.rows[0]?.d).toBeCloseTo(1 - 0.9 / Math.hypot(0.9, 0.1), 6);
  });

  it.skipIf(!available)('fixes the embedding dimension per store and refuses another model or size', async () => {
    t = await open();
    expect(await getEmbeddingStore(t.db)).toBeNull();
    await bindEmbeddingStore(t.db, { model: 'use-lite', dimension: 512 });
    await expect(bindEmbeddingStore(t.db, { model: 'use-lite', dimension: 512 })).resolves.toEqual({ model: 'use-lite', dimension: 512 });
    await expect(bindEmbeddingStore(t.db, { model: 'nomic-embed-text', dimension: 768 })).rejects.toMatchObject({ code: 'EMBEDDING_MISMATCH' });
    // The column type refuses a wrong-sized vector too.
    await expect(
      t.db.query(`INSERT INTO news_items (id, source, title, published_at, content_hash, embedding) VALUES ('x', 's', 't', now(), 'h', $1::vector)`, [
        toVectorLiteral([1, 2, 3]),
      ]),
    ).rejects.toThrow(/dimensions/);
  });

  it.skipIf(!available)('keeps the audit log append-only', async () => {
    t = await open();
    await appendAudit(t.db, 'test.event', 'thing', 't1', { n: 1 });
    await expect(t.db.query(`UPDATE audit_events SET kind = 'x'`)).rejects.toThrow(/append-only/);
    await expect(t.db.query(`DELETE FROM audit_events`)).rejects.toThrow(/append-only/);
    const rows = await t.db.query<{ kind: string }>('SELECT kind FROM audit_events');
    expect(rows.rows).toEqual([{ kind: 'test.event' }]);
  });

  it.skipIf(!available)('rolls a transaction back whole when it fails', async () => {
    t = await open();
    await expect(
      t.db.transaction(async (tx) => {
        await tx.query(`INSERT INTO api_tokens (id, name, scope, token_hash) VALUES ('a', 'n', 'read', 'h1')`);
        await tx.query(`INSERT INTO api_tokens (id, name, scope, token_hash) VALUES ('b', 'n', 'admin', 'h2')`);
      }),
    ).rejects.toThrow();
    const rows = await t.db.query('SELECT id FROM api_tokens');
    expect(rows.rows).toEqual([]);
  });

  it.skipIf(!available)('refuses a migration edited after it was applied', async () => {
    t = await open();
    await t.db.query(`UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1`);
    await expect(migrate(t.db)).rejects.toMatchObject({ code: 'MIGRATION_FAILED', message: expect.stringMatching(/changed after it was applied/) });
  });
});
