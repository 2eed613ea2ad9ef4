import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, createApp } from '../../api/index.ts';
import { PROJECT_ROOT, createLogger, loadConfig } from '../../config/index.ts';
import { parseJson } from '../../contracts/index.ts';
import { startPaperExchange, type RunningPaperExchange } from '../../execution/index.ts';
import { ingestPriceCsv, newYorkToUtc } from '../../market/index.ts';
import { registerModel } from '../../ml/index.ts';
import { buildSessionEnv, runSession, type BuiltEnv, type SessionOutcome } from '../../sessions/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';

const AS_OF = newYorkToUtc('1999-06-01', 12, 30);

async function json(res: Response): Promise<Record<string, unknown>> {
  const parsed = parseJson(await res.text());
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) throw new Error('expected JSON');
  return parsed.value as Record<string, unknown>;
}

describe.each(BACKENDS)('human approval round trip on $name', ({ open, available }) => {
  let t: TestDb;
  let exchange: RunningPaperExchange;
  let built: BuiltEnv;
  let server: ServerType;
  let base: string;
  let read: string;
  let control: string;
  let session: SessionOutcome;

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    const config = loadConfig({
      env: { QUORUM_MODELS__LLM__BACKEND: 'rules', QUORUM_SETTINGS__EXECUTION__REQUIRE_APPROVAL: 'true', ...(t.url ? { DATABASE_URL: t.url } : {}) },
    });
    await ingestPriceCsv(t.db, path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv'));
    exchange = await startPaperExchange({ db: t.db, settings: config.settings.execution.paperExchange, port: 0, initialNow: AS_OF });
    const log = createLogger({ ...config, settings: { ...config.settings, logging: { level: 'silent' } } });
    built = await buildSessionEnv(t.db, config, log, { paperExchangeUrl: exchange.url, now: () => AS_OF });
    await registerModel(t.db, built.env.proposer.card, config.models.proposer.cardPath, 'production');
    session = await runSession(built.env, { asOf: AS_OF, kind: 'manual', slot: 'approval-test' });
    const app = createApp({ db: t.db, config, session: built.env });
    read = (await createApiToken(t.db, 'viewer', 'read')).token;
    control = (await createApiToken(t.db, 'desk', 'control')).token;
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 240_000);

  afterAll(async () => {
    if (!available) return;
    await new Promise<void>((r) => server.close(() => r()));
    await built.close();
    await exchange.close();
    await t.cleanup();
  });

  const call = (method: string, p: string, token: string, body?: unknown): Promise<Response> =>
    fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it.skipIf(!available)('stops before any order and lists what waits for a human', async () => {
    const waiting = session.judged.filter((j) => j.pendingApproval);
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    expect(session.judged.every((j) => j.order === null)).toBe(true);
    expect((await t.db.query('SELECT id FROM order_intents')).rows).toEqual([]);
    const list = await json(await call('GET', '/v1/approvals', read));
    const ids = (list.approvals as Array<{ id: string; ticker: string; final_qty: number }>).map((a) => a.id).sort();
    expect(ids).toEqual(waiting.map((w) => w.pendingApproval).sort());
  });

  it.skipIf(!available)('approves one (the run resumes and orders), rejects another (no order), and stores both decisions', async () => {
    const [first, second] = session.judged.filter((j) => j.pendingApproval);
    const firstId = first?.pendingApproval ?? '';
    const secondId = second?.pendingApproval ?? '';
    expect((await call('POST', `/v1/approvals/${firstId}`, read, { approve: true, reason: 'ok' })).status).toBe(403);
    const bad = await call('POST', `/v1/approvals/${firstId}`, control, { approve: 'yes' });
    expect(bad.status).toBe(400);
    expect(((await json(bad)).issues as Array<{ path: string }>).map((i) => i.path).sort()).toEqual(['body.approve', 'body.reason']);

    const approved = await json(await call('POST', `/v1/approvals/${firstId}`, control, { approve: true, reason: 'size fine, trend intact' }));
    expect(approved.status).toBe('approved');
    expect((approved.order as { status: string }).status).toMatch(/accepted|filled/);
    const rejected = await json(await call('POST', `/v1/approvals/${secondId}`, control, { approve: false, reason: 'too much in one sector' }));
    expect(rejected).toMatchObject({ status: 'rejected', order: null });

    const intents = await t.db.query<{ ticker: string }>('SELECT ticker FROM order_intents');
    expect(intents.rows.map((r) => r.ticker)).toEqual([first?.proposal.ticker]);
    const rows = await t.db.query<{ id: string; status: string; decided_by: string; reason: string }>(
      'SELECT id, status, decided_by, reason FROM approvals ORDER BY id',
    );
    expect(rows.rows.find((r) => r.id === firstId)).toMatchObject({ status: 'approved', decided_by: 'api:desk', reason: 'size fine, trend intact' });
    expect(rows.rows.find((r) => r.id === secondId)).toMatchObject({ status: 'rejected', decided_by: 'api:desk' });
    const verdicts = await t.db.query('SELECT id FROM verdicts');
    expect(verdicts.rows.length).toBe(session.judged.length);

    const again = await call('POST', `/v1/approvals/${firstId}`, control, { approve: false, reason: 'changed my mind' });
    expect(again.status).toBe(409);
  });
});
