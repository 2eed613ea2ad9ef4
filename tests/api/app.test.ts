import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, createApp } from '../../api/index.ts';
import { loadConfig } from '../../config/index.ts';
import { parseJson } from '../../contracts/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { CHAIN, CHAIN_VERDICT, seedChain } from '../support/seed-chain.ts';

async function json(res: Response): Promise<Record<string, unknown>> {
  const parsed = parseJson(await res.text());
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) throw new Error('expected a JSON object');
  return parsed.value as Record<string, unknown>;
}

describe.each(BACKENDS)('HTTP API on $name', ({ open, available }) => {
  let t: TestDb;
  let app: ReturnType<typeof createApp>;
  let read: string;
  let control: string;

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    await seedChain(t.db);
    app = createApp({ db: t.db, config: loadConfig({ env: { QUORUM_SETTINGS__API__RATE_LIMIT_PER_MINUTE: '1000' } }) });
    read = (await createApiToken(t.db, 'reader', 'read')).token;
    control = (await createApiToken(t.db, 'ops', 'control')).token;
  });
  afterAll(async () => {
    if (available) await t.cleanup();
  });

  const get = (path: string, token?: string): Promise<Response> =>
    Promise.resolve(app.request(path, { headers: token ? { authorization: `Bearer ${token}` } : {} }));

  it.skipIf(!available)('answers 401 without a token and with an unknown one, and never stores tokens in clear', async () => {
    const none = await get('/v1/sessions');
    expect(none.status).toBe(401);
    expect((await json(none)).error).toBe('UNAUTHORIZED');
    expect((await get('/v1/sessions', 'qrm_not-a-real-token')).status).toBe(401);
    const stored = await t.db.query<{ token_hash: string }>('SELECT token_hash FROM api_tokens');
    expect(stored.rows.map((r) => r.token_hash)).not.toContain(read);
    expect(stored.rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true);
  });

  it.skipIf(!available)('serves health and readiness without a token', async () => {
    expect((await get('/healthz')).status).toBe(200);
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await json(ready)).toMatchObject({ status: 'ready' });
  });

  it.skipIf(!available)('returns a stored verdict as the Verdict contract, and 404 for an unknown id', async () => {
    const res = await get(`/v1/verdicts/${CHAIN.verdict}`, read);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual(CHAIN_VERDICT);
    const again = await get(`/v1/verdicts/${CHAIN.verdict}`, read);
    expect(await json(again)).toEqual(CHAIN_VERDICT);
    const missing = await get('/v1/verdicts/vrd_nope', read);
    expect(missing.status).toBe(404);
    expect(await json(missing)).toMatchObject({ error: 'NOT_FOUND', message: 'no verdict vrd_nope' });
  });

  it.skipIf(!available)('answers 400 naming the query field that is wrong', async () => {
    const res = await get('/v1/sessions?limit=abc&offset=-1', read);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error).toBe('INPUT_INVALID');
    const paths = (body.issues as Array<{ path: string }>).map((i) => i.path).sort();
    expect(paths).toEqual(['query.limit', 'query.offset']);
    expect(String(body.message)).toContain('query.limit:');
  });

  it.skipIf(!available)('lists sessions and shows one with its proposals, verdicts, decisions and orders', async () => {
    const list = await json(await get('/v1/sessions', read));
    expect((list.sessions as Array<{ id: string }>).map((s) => s.id)).toEqual([CHAIN.session]);
    const one = await json(await get(`/v1/sessions/${CHAIN.session}`, read));
    expect((one.proposals as unknown[]).length).toBe(1);
    expect((one.verdicts as Array<{ decision: string }>)[0]?.decision).toBe('REDUCE');
    expect((one.riskDecisions as Array<{ final_qty: number }>)[0]?.final_qty).toBe(25);
    expect((one.orders as Array<{ id: string }>)[0]?.id).toBe(CHAIN.order);
  });

  it.skipIf(!available)('returns the whole audit chain of an order with every link present', async () => {
    for (const id of [CHAIN.order, CHAIN.clientOrderId]) {
      const chain = await json(await get(`/v1/audit/orders/${id}`, read));
      expect(chain.missing).toEqual([]);
      expect((chain.intent as { risk_decision_id: string }).risk_decision_id).toBe(CHAIN.decision);
      const rd = chain.riskDecision as { ruleResults: Array<{ rule: string; detail: string }> };
      expect(rd.ruleResults.map((r) => r.detail)).toContain('MAX_POSITIONS: open=3 limit=12');
      expect((chain.verdict as { id: string }).id).toBe(CHAIN.verdict);
      const run = chain.committeeRun as { messages: unknown[]; toolCalls: Array<{ id: string }> };
      expect(run.messages).toHaveLength(1);
      expect(run.toolCalls[0]?.id).toBe(CHAIN.toolCall);
      expect((chain.retrievals as Array<{ news_id: string }>)[0]?.news_id).toBe(CHAIN.news);
      expect((chain.proposal as { id: string }).id).toBe(CHAIN.proposal);
      expect((chain.model as { version: string }).version).toBe('v1');
      expect((chain.featureSnapshot as { id: string }).id).toBe(CHAIN.snapshot);
      expect((chain.fills as unknown[]).length).toBe(1);
    }
    expect((await get('/v1/audit/orders/ord_missing', read)).status).toBe(404);
  });

  it.skipIf(!available)('exposes Prometheus metrics read from the database', async () => {
    expect((await get('/metrics')).status).toBe(401);
    const res = await get('/metrics', read);
    const text = await res.text();
    expect(text).toContain('quorum_verdicts{decision="REDUCE"} 1');
    expect(text).toContain('quorum_risk_denials{rule="MAX_POSITION_PCT"} 1');
    expect(text).toContain('quorum_sessions{status="completed"} 1');
    expect(text).toContain('quorum_llm_prompt_tokens{agent="analyst"} 900');
    expect(text).toMatch(/quorum_http_requests_total\{method="GET",route="\/v1\/verdicts\/:id",status="200"\} \d+/);
  });

  it.skipIf(!available)('publishes an OpenAPI 3.1 document generated from the zod schemas', async () => {
    const doc = await json(await get('/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    const paths = Object.keys(doc.paths as object);
    expect(paths).toEqual(expect.arrayContaining(['/v1/verdicts/{id}', '/v1/sessions', '/v1/sessions/{id}', '/v1/audit/orders/{id}', '/v1/portfolio']));
    const verdict = (doc.components as { schemas: Record<string, { properties: Record<string, unknown> }> }).schemas.Verdict;
    expect(Object.keys(verdict?.properties ?? {})).toContain('sizeMultiplier');
  });

  it.skipIf(!available)('shows the portfolio and the trading state', async () => {
    const p = await json(await get('/v1/portfolio', control));
    expect((p.tradingState as { state: string }).state).toBe('ACTIVE');
  });

  const post = (path: string, body: unknown, token?: string): Promise<Response> =>
    Promise.resolve(
      app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );

  it.skipIf(!available)('answers 403 to a read token on control routes and changes nothing', async () => {
    const res = await post('/v1/controls/halt', { reason: 'test' }, read);
    expect(res.status).toBe(403);
    expect((await json(res)).message).toContain('control scope');
    const state = await t.db.query<{ state: string }>('SELECT state FROM trading_state');
    expect(state.rows[0]?.state).toBe('ACTIVE');
  });

  it.skipIf(!available)('answers 400 naming the body fields of a bad control request', async () => {
    const missing = await post('/v1/controls/halt', {}, control);
    expect(missing.status).toBe(400);
    expect((await json(missing)).issues).toEqual([{ path: 'body.reason', message: expect.any(String) }]);
    const wrong = await post('/v1/controls/resume', { reason: 'x', state: 'YOLO', extra: 1 }, control);
    const paths = ((await json(wrong)).issues as Array<{ path: string }>).map((i) => i.path).sort();
    expect(paths).toEqual(['body', 'body.state']);
    const notJson = await post('/v1/controls/halt', '{"reason":', control);
    expect(notJson.status).toBe(400);
  });

  it.skipIf(!available)('halts and resumes trading with a control token, auditing who did it', async () => {
    const halted = await post('/v1/controls/halt', { reason: 'news shock' }, control);
    expect(halted.status).toBe(200);
    expect(await json(halted)).toMatchObject({ state: 'HALTED', reason: 'news shock' });
    const reducing = await json(await post('/v1/controls/resume', { reason: 'calmer', state: 'REDUCING' }, control));
    expect(reducing.state).toBe('REDUCING');
    const active = await json(await post('/v1/controls/resume', { reason: 'all clear' }, control));
    expect(active.state).toBe('ACTIVE');
    const audit = await t.db.query<{ payload: { to: string; actor: string } }>(
      `SELECT payload FROM audit_events WHERE kind = 'trading_state.changed' ORDER BY id`,
    );
    expect(audit.rows.map((r) => [r.payload.to, r.payload.actor])).toEqual([
      ['HALTED', 'api:ops'],
      ['REDUCING', 'api:ops'],
      ['ACTIVE', 'api:ops'],
    ]);
  });

  it.skipIf(!available)('answers 429 past the per-token rate limit, per token', async () => {
    const limited = createApp({ db: t.db, config: loadConfig({ env: { QUORUM_SETTINGS__API__RATE_LIMIT_PER_MINUTE: '3' } }) });
    const hit = (token: string): Promise<Response> => Promise.resolve(limited.request('/v1/portfolio', { headers: { authorization: `Bearer ${token}` } }));
    for (let i = 0; i < 3; i++) expect((await hit(read)).status).toBe(200);
    const over = await hit(read);
    expect(over.status).toBe(429);
    expect((await json(over)).error).toBe('RATE_LIMITED');
    // Another token has its own budget.
    expect((await hit(control)).status).toBe(200);
  });

  describe('over a real socket', () => {
    let server: ServerType;
    let base: string;
    beforeAll(async () => {
      if (!available) return;
      await new Promise<void>((resolve) => {
        server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve());
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      if (available) await new Promise<void>((r) => server.close(() => r()));
    });

    it.skipIf(!available)('authenticates, serves a verdict and refuses oversized bodies', async () => {
      expect((await fetch(`${base}/v1/verdicts/${CHAIN.verdict}`)).status).toBe(401);
      const ok = await fetch(`${base}/v1/verdicts/${CHAIN.verdict}`, { headers: { authorization: `Bearer ${read}` } });
      expect(ok.status).toBe(200);
      expect((await json(ok)).decision).toBe('REDUCE');
      const big = await fetch(`${base}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${read}`, 'content-type': 'application/json' },
        body: 'x'.repeat(70_000),
      });
      expect(big.status).toBe(413);
    });
  });
});
