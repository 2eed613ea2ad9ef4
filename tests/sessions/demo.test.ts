import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '../../config/index.ts';
import { openDb, type Db } from '../../db/index.ts';
import { auditChainForOrder, runDemo, type DemoResult } from '../../sessions/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';

describe.each(BACKENDS)('quorum demo on $name', ({ name, open, available }) => {
  let dataDir: string;
  let result: DemoResult;
  let db: Db;
  let pg: TestDb | null = null;
  const env: Record<string, string> = {};

  beforeAll(async () => {
    if (!available) return;
    dataDir = mkdtempSync(path.join(tmpdir(), 'quorum-demo-'));
    env.QUORUM_DATA_DIR = dataDir;
    env.QUORUM_MODELS__LLM__BACKEND = 'rules';
    if (name === 'PostgreSQL') {
      pg = await open({ migrate: false });
      await pg.db.close();
      env.DATABASE_URL = pg.url ?? '';
    }
    const config = loadConfig({ env });
    result = await runDemo({ config, log: createLogger({ ...config, settings: { ...config.settings, logging: { level: 'silent' } } }) });
    db = await openDb(config);
  }, 300_000);

  afterAll(async () => {
    if (!available) return;
    await db.close();
    if (pg) {
      const { openPostgres } = await import('../../db/index.ts');
      const admin = await openPostgres(process.env.TEST_DATABASE_URL ?? '', { poolMax: 1 });
      await admin.exec(`DROP SCHEMA IF EXISTS ${pg.schema} CASCADE`);
      await admin.close();
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.skipIf(!available)('leaves a completed session with verdicts, risk decisions with every rule, and a paper order', async () => {
    expect(result.created).toBe(true);
    expect(result.notice).toMatch(/rules baseline/);
    const session = await db.query<{ status: string; kind: string }>('SELECT status, kind FROM sessions WHERE id = $1', [result.sessionId]);
    expect(session.rows[0]).toEqual({ status: 'completed', kind: 'demo' });
    const verdicts = await db.query<{ decision: string }>(
      'SELECT v.decision FROM verdicts v JOIN proposals p ON p.id = v.proposal_id WHERE p.session_id = $1',
      [result.sessionId],
    );
    expect(verdicts.rows.length).toBe(5);
    const decisions = await db.query<{ id: string; n: number }>(
      `SELECT r.id, (SELECT count(*)::int FROM risk_rule_results x WHERE x.decision_id = r.id) AS n
         FROM risk_decisions r JOIN proposals p ON p.id = r.proposal_id WHERE p.session_id = $1`,
      [result.sessionId],
    );
    expect(decisions.rows.length).toBe(5);
    for (const d of decisions.rows) expect(d.n).toBeGreaterThanOrEqual(20);
    const orders = await db.query<{ id: string; status: string; filled_qty: number }>(
      `SELECT o.id, o.status, o.filled_qty FROM orders o JOIN order_intents i ON i.client_order_id = o.client_order_id
        WHERE i.session_id = $1 AND o.parent_id IS NULL`,
      [result.sessionId],
    );
    expect(orders.rows.length).toBeGreaterThanOrEqual(1);
    expect(orders.rows.some((o) => o.status === 'filled' && o.filled_qty > 0)).toBe(true);
  });

  it.skipIf(!available)('writes the Markdown and HTML report', () => {
    expect(result.reportHtml && existsSync(result.reportHtml)).toBe(true);
    const md = readFileSync(result.reportMarkdown ?? '', 'utf8');
    expect(md).toContain(`# Quorum session ${result.sessionId}`);
    expect(md).toMatch(/\| (APPROVE|REDUCE) \|/);
  });

  it.skipIf(!available)('traces an order back through every link of the audit chain', async () => {
    const order = result.report.items.flatMap((i) => i.orders)[0];
    expect(order).toBeDefined();
    const chain = await auditChainForOrder(db, order?.id ?? '');
    expect(chain?.missing).toEqual([]);
    expect((chain?.committeeRun as { messages: unknown[] }).messages.length).toBeGreaterThanOrEqual(5);
    expect((chain?.model as { stage: string }).stage).toBe('production');
  });

  it.skipIf(!available)('reports the stored session when run again for the same date (one session per slot)', async () => {
    const config = loadConfig({ env });
    // One process owns an embedded PGlite directory: the test lets go of it while the demo runs.
    if (name === 'PGlite') await db.close();
    const again = await runDemo({ config, log: createLogger({ ...config, settings: { ...config.settings, logging: { level: 'silent' } } }) });
    if (name === 'PGlite') db = await openDb(config);
    expect(again.created).toBe(false);
    expect(again.sessionId).toBe(result.sessionId);
    const sessions = await db.query('SELECT id FROM sessions');
    expect(sessions.rows.length).toBe(1);
  });
});
