import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, createApp } from '../../api/index.ts';
import { PROJECT_ROOT, createLogger, loadConfig } from '../../config/index.ts';
import { Verdict, parseJson } from '../../contracts/index.ts';
import { ingestPriceCsv } from '../../market/index.ts';
import { buildSessionEnv, type BuiltEnv } from '../../sessions/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { makeProposal } from '../support/committee.ts';

async function body(res: Response): Promise<Record<string, unknown>> {
  const parsed = parseJson(await res.text());
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) throw new Error('expected JSON');
  return parsed.value as Record<string, unknown>;
}

describe.each(BACKENDS)('critiques over the API on $name', ({ open, available }) => {
  let t: TestDb;
  let built: BuiltEnv;
  let app: ReturnType<typeof createApp>;
  let token: string;
  let server: ServerType;
  let base: string;

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    await ingestPriceCsv(t.db, path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv'));
    const config = loadConfig({ env: { QUORUM_MODELS__LLM__BACKEND: 'rules', ...(t.url ? { DATABASE_URL: t.url } : {}) } });
    const log = createLogger({ ...config, settings: { ...config.settings, logging: { level: 'silent' } } });
    built = await buildSessionEnv(t.db, config, log);
    app = createApp({ db: t.db, config, session: built.env });
    token = (await createApiToken(t.db, 'analyst', 'read')).token;
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 180_000);

  afterAll(async () => {
    if (!available) return;
    await new Promise<void>((r) => server.close(() => r()));
    await built.close();
    await t.cleanup();
  });

  const post = (payload: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    Promise.resolve(
      app.request('/v1/critiques', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
        body: JSON.stringify(payload),
      }),
    );

  it.skipIf(!available)('critiques a given proposal and stores the run, readable at GET /v1/critiques/:id', async () => {
    const proposal = makeProposal({ id: 'prop-api-1', ticker: 'DIS', asOf: '1999-06-01T20:00:00.000Z', featureSnapshotId: 'fs-api-1' });
    const res = await post({ proposal });
    expect(res.status).toBe(200);
    const b = await body(res);
    expect(b.backend).toBe('rules');
    const verdict = Verdict.parse(b.verdict);
    expect(verdict.proposalId).toBe('prop-api-1');
    const critique = await body(await app.request(`/v1/critiques/${String(b.critiqueId)}`, { headers: { authorization: `Bearer ${token}` } }));
    expect(critique.status).toBe('completed');
    expect((critique.verdict as { id: string }).id).toBe(verdict.id);
    expect((critique.messages as unknown[]).length).toBeGreaterThanOrEqual(5);
    expect((critique.toolCalls as unknown[]).length).toBeGreaterThanOrEqual(1);
    const snapshot = await t.db.query<{ feature_set: string }>(`SELECT feature_set FROM feature_snapshots WHERE id = 'fs-api-1'`);
    expect(snapshot.rows[0]?.feature_set).toBe('external');
  });

  it.skipIf(!available)("critiques the model's own proposal for {ticker, asOf}, and says when the model abstains", async () => {
    const res = await post({ ticker: 'DIS', asOf: '1999-06-01' });
    expect(res.status).toBe(200);
    const b = await body(res);
    const proposal = await t.db.query<{ ticker: string; side: string }>('SELECT ticker, side FROM proposals WHERE id = $1', [
      Verdict.parse(b.verdict).proposalId,
    ]);
    expect(proposal.rows[0]).toEqual({ ticker: 'DIS', side: 'buy' });
    const abstain = await post({ ticker: 'AA', asOf: '1999-06-01' });
    expect(abstain.status).toBe(404);
    expect(String((await body(abstain)).message)).toMatch(/model abstains on AA .*; send side \(buy or sell\) to have the committee judge your own idea/);
  });

  it.skipIf(!available)(
    "critiques a caller's own idea {ticker, asOf, side, probability} where the model abstains, on the model's stored features",
    async () => {
      const res = await post({ ticker: 'AA', asOf: '1999-06-01', side: 'sell', probability: 0.3 });
      expect(res.status).toBe(200);
      const proposalId = Verdict.parse((await body(res)).verdict).proposalId;
      const row = await t.db.query<{ ticker: string; side: string; probability: number; model_id: string; feature_set: string }>(
        'SELECT p.ticker, p.side, p.probability, p.model_id, f.feature_set FROM proposals p JOIN feature_snapshots f ON f.id = p.feature_snapshot_id WHERE p.id = $1',
        [proposalId],
      );
      // The idea is the caller's (model_id user); its features are the proposer's point-in-time snapshot.
      expect(row.rows[0]).toEqual({ ticker: 'AA', side: 'sell', probability: 0.3, model_id: 'user', feature_set: expect.not.stringMatching(/^external$/) });
      const orphan = await post({ ticker: 'AA', asOf: '1999-06-01', probability: 0.3 });
      expect(orphan.status).toBe(400);
      expect(((await body(orphan)).issues as Array<{ path: string }>).map((i) => i.path)).toEqual(['body.probability']);
    },
  );

  it.skipIf(!available)('answers 400 naming the fields of a bad critique request, and stores nothing', async () => {
    const runsBefore = await t.db.query('SELECT id FROM committee_runs');
    const missing = await body(await post({ ticker: 'dis!' }));
    expect((missing.issues as Array<{ path: string }>).map((i) => i.path).sort()).toEqual(['body.asOf', 'body.ticker']);
    const bad = await post({ proposal: { ...makeProposal(), probability: 2, side: 'short' } });
    expect(bad.status).toBe(400);
    expect(((await body(bad)).issues as Array<{ path: string }>).map((i) => i.path).sort()).toEqual(['body.proposal.probability', 'body.proposal.side']);
    const notJson = await app.request('/v1/critiques', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"ticker":',
    });
    expect(notJson.status).toBe(400);
    expect((await body(notJson)).issues).toEqual([{ path: 'body', message: expect.stringContaining('JSON') }]);
    const notDeclared = await app.request('/v1/critiques', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"ticker":"DIS"}' });
    expect(notDeclared.status).toBe(415);
    expect((await body(notDeclared)).error).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect((await t.db.query('SELECT id FROM committee_runs')).rows.length).toBe(runsBefore.rows.length);
  });

  it.skipIf(!available)('answers 400 naming body.asOf for a date the stored bars cannot serve, with the range, and stores nothing', async () => {
    const proposalsBefore = (await t.db.query('SELECT id FROM proposals')).rows.length;
    const issuesOf = async (payload: unknown): Promise<Array<{ path: string; message: string }>> => {
      const res = await post(payload);
      expect(res.status).toBe(400);
      const b = await body(res);
      expect(b.error).toBe('INPUT_INVALID');
      return b.issues as Array<{ path: string; message: string }>;
    };
    const range = 'available dates: 1991-03-13..2001-01-02 (from the first stored bar of DIS 1990-12-31, 51 bars';
    const saturday = await issuesOf({ ticker: 'DIS', asOf: '1999-06-05' });
    expect(saturday).toEqual([
      {
        path: 'body.asOf',
        message: expect.stringContaining('asOf 1999-06-05 is not a trading day (a Saturday): the previous trading day is 1999-06-04, the next 1999-06-07'),
      },
    ]);
    expect(saturday[0]?.message).toContain(range);
    expect((await issuesOf({ ticker: 'DIS', asOf: '2030-01-02' }))[0]).toEqual({
      path: 'body.asOf',
      message: expect.stringContaining('asOf 2030-01-02 is after the last stored bar of DIS 2001-01-02'),
    });
    // A time before the close sees only the earlier days' bars: the range starts a bar later.
    expect((await issuesOf({ ticker: 'DIS', asOf: '1990-06-01T15:00:00Z' }))[0]?.message).toContain(
      'asOf 1990-06-01T15:00:00.000Z is before the first usable date 1991-03-14; available dates: 1991-03-14..2001-01-02',
    );
    expect(await issuesOf({ ticker: 'ZZZZ', asOf: '1999-06-01' })).toEqual([
      { path: 'body.ticker', message: expect.stringContaining('no bars for ZZZZ are stored') },
    ]);
    expect((await t.db.query('SELECT id FROM proposals')).rows.length).toBe(proposalsBefore);
  });

  it.skipIf(!available)('streams the run node by node over SSE on a real socket', async () => {
    const proposal = makeProposal({ id: 'prop-api-sse', ticker: 'HD', asOf: '1999-06-01T20:00:00.000Z', featureSnapshotId: 'fs-api-sse' });
    const res = await fetch(`${base}/v1/critiques`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ proposal }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(events[0]).toBe('run_started');
    expect(events[events.length - 1]).toBe('verdict');
    const nodes = [...text.matchAll(/"type":"node_finished"[^\n]*?"node":"(\w+)"/g)].map((m) => m[1]);
    expect(nodes).toEqual(expect.arrayContaining(['analyst', 'bull', 'bear', 'risk', 'committee']));
    expect(nodes.indexOf('analyst')).toBeLessThan(nodes.indexOf('committee'));
    const last = /event: verdict\ndata: (.*)\n/.exec(text)?.[1] ?? '';
    const parsed = parseJson(last);
    expect(parsed.ok && Verdict.safeParse((parsed.value as { verdict: unknown }).verdict).success).toBe(true);
  });

  it.skipIf(!available)('answers 401 to a critique without a token', async () => {
    const res = await app.request('/v1/critiques', { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });
});
