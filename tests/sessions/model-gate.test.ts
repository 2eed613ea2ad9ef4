/**
 * The model-health gate and the per-model kill switch as a user meets them, each command its own
 * `node bin/quorum.js` process on one fresh PGlite data dir: real Dow 30 closes of four tickers,
 * the ones after 1996-06-03 shifted into a rally (+0.6% a day). A session before the shift proceeds;
 * one inside it abstains (stored as skipped, its report saying why, a `model.abstained` webhook);
 * the next one abstains too, until `quorum model override`; then it trades, and the override is in
 * the audit log with who and why. `quorum halt --model` switches the model off (MODEL_KILL_SWITCH),
 * and `quorum serve` shows the session's health, the breakers and the halted models over HTTP.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BUNDLED_CONFIG_DIR, PROJECT_ROOT } from '../../config/index.ts';
import { parseJson } from '../../contracts/index.ts';
import { openPglite } from '../../db/index.ts';
import { cliEnv, freePort, jsonOf, runQuorum, spawnQuorum, type CliRun } from '../support/cli.ts';
import { tempConfigDir } from '../support/config-dir.ts';
import { startReceiver, type Receiver } from '../notify/receiver.ts';

const TICKERS = ['AA', 'IBM', 'MO', 'XOM'];
const SHIFT_FROM = '1996-06-03';
const dirs: string[] = [];
let dir = '';
let env: NodeJS.ProcessEnv = {};
let rx: Receiver;

const ok = (r: CliRun): CliRun => {
  expect(r.code, `quorum ${r.args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
};
/** A run's stdout as JSON, whatever its exit code (a skipped session exits 1 and prints its outcome). */
function parseOrFail(text: string): unknown {
  const parsed = parseJson(text);
  if (!parsed.ok) throw new Error(`${parsed.error}: ${text.slice(0, 300)}`);
  return parsed.value;
}
const Outcome = z.object({ sessionId: z.string(), skipped: z.string().nullable(), judged: z.array(z.unknown()) }).passthrough();

/** The bundled wide CSV cut to four tickers and 1994-1996, with the closes from SHIFT_FROM on compounding up 0.6% a day. */
function shiftedCsv(): string {
  const lines = readFileSync(path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv'), 'utf8').trim().split('\n');
  const head = (lines[0] ?? '').split(',').map((h) => h.replaceAll('"', ''));
  const cols = TICKERS.map((t) => head.indexOf(t === 'XOM' ? 'XOM' : t));
  expect(cols.every((c) => c > 0)).toBe(true);
  const out = [['date', ...TICKERS].map((h) => `"${h}"`).join(',')];
  let k = 0;
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    const date = (cells[0] ?? '').replaceAll('"', '');
    if (date < '1994-01-01' || date > '1996-12-31') continue;
    if (date >= SHIFT_FROM) k++;
    const f = 1.006 ** k;
    out.push([`"${date}"`, ...cols.map((c) => (Number(cells[c]) * f).toFixed(4))].join(','));
  }
  return `${out.join('\n')}\n`;
}

beforeAll(async () => {
  rx = await startReceiver();
  dir = mkdtempSync(path.join(tmpdir(), 'quorum-model-gate-'));
  dirs.push(dir);
  const settings = readFileSync(path.join(BUNDLED_CONFIG_DIR, 'settings.yaml'), 'utf8').replace(
    /^ {2}targets: \[\].*$/m,
    `  targets: [{ name: ops, kind: webhook, url: "${rx.url('/hook')}", events: [model.abstained, session.skipped] }]`,
  );
  expect(settings).toContain(rx.url('/hook'));
  const configDir = tempConfigDir({ 'settings.yaml': settings });
  dirs.push(configDir);
  // 120 bars of four tickers: the real window before the shift reads healthy (score ~0.72 of 1). One
  // proposal judged per session keeps the file fast.
  env = cliEnv(dir, {
    QUORUM_CONFIG_DIR: configDir,
    QUORUM_SETTINGS__DRIFT__WINDOW_DAYS: '120',
    QUORUM_SETTINGS__DRIFT__GATE: 'abstain',
    QUORUM_SETTINGS__SESSIONS__TOP_N: '1',
  });
  writeFileSync(path.join(dir, 'shifted.csv'), shiftedCsv());
});
afterAll(async () => {
  await rx.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('model health gate and per-model kill switch, through the CLI and the API', { timeout: 240_000 }, () => {
  const q = (...args: string[]): Promise<CliRun> => runQuorum(args, env, { timeoutMs: 200_000 });
  const ids: Record<string, string> = {};

  it.sequential('a session before the shift proceeds; one inside it abstains, says why, notifies, and the model stays abstaining', async () => {
    ok(await q('ingest', 'prices', path.join(dir, 'shifted.csv')));
    const before = Outcome.parse(jsonOf(ok(await q('session', 'run', '--as-of', '1996-05-01T16:30:00Z', '--backend', 'rules', '--json'))));
    expect(before.skipped).toBeNull();
    ids.before = before.sessionId;

    const drifted = await q('session', 'run', '--as-of', '1996-09-03T16:30:00Z', '--backend', 'rules', '--json');
    expect(drifted.code).toBe(1);
    const out = Outcome.parse(parseOrFail(drifted.stdout));
    ids.drifted = out.sessionId;
    expect(out.judged).toEqual([]);
    expect(out.skipped).toMatch(
      /^model default@[0-9a-f]+ abstains: health score 0\.\d{3} < 0\.5 \(.*PSI.*\); retrain it or `quorum model override --reason …`$/,
    );
    expect(drifted.stderr).toContain(`quorum: session ${out.sessionId} traded nothing: model default@`);
    const report = readFileSync(path.join(dir, 'reports', `session-${out.sessionId}.md`), 'utf8');
    expect(report).toContain('Traded nothing: model default@');
    const hook = rx.bodiesAt('/hook') as Array<{ event: string; subject: string; text: string }>;
    const abstained = hook.find((b) => b.event === 'model.abstained');
    expect(abstained?.subject).toMatch(/^Model default@[0-9a-f]+ abstains \(health 0\.\d{3} < 0\.5\)$/);
    expect(abstained?.text).toContain(`Session ${out.sessionId} traded nothing.`);
    expect(hook.map((b) => b.event)).toContain('session.skipped');

    // The next day it still abstains: nothing retrained it, nobody overrode it.
    const next = await q('session', 'run', '--as-of', '1996-09-04T16:30:00Z', '--backend', 'rules', '--json');
    expect(next.code).toBe(1);
    expect(Outcome.parse(parseOrFail(next.stdout)).skipped).toContain('abstains: health score');
  });

  it.sequential('`quorum model override` lets it trade again, and the override is audited with who and why', async () => {
    const bad = await q('model', 'override', '--reason', ' ');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/reason/);
    const override = z
      .object({ id: z.string(), modelId: z.literal('default'), modelVersion: z.string(), actor: z.literal('cli:alice'), reason: z.string() })
      .passthrough()
      .parse(jsonOf(ok(await q('model', 'override', '--reason', 'the rally is real', '--by', 'alice', '--json'))));
    const after = await q('session', 'run', '--as-of', '1996-09-05T16:30:00Z', '--backend', 'rules', '--json');
    ok(after);
    const out = Outcome.parse(jsonOf(after));
    expect(out.skipped).toBeNull();
    ids.overridden = out.sessionId;
    expect(after.stderr).toMatch(
      /model health: model default@[0-9a-f]+ is unhealthy \(health score 0\.\d{3} < 0\.5\); overridden by cli:alice at .*: the rally is real/,
    );
    expect(after.stderr).toMatch(/proposer: \d+ proposals/);

    const db = await openPglite(path.join(dir, 'pglite'));
    try {
      const audit = await db.query("SELECT kind, entity_id, payload FROM audit_events WHERE kind IN ('model.override', 'model.abstained') ORDER BY id");
      expect(audit.rows.map((r) => r.kind)).toEqual(['model.abstained', 'model.abstained', 'model.override']);
      expect(audit.rows[2]).toMatchObject({
        entity_id: `default@${override.modelVersion}`,
        payload: { override: override.id, reason: 'the rally is real', actor: 'cli:alice' },
      });
      const gates = await db.query('SELECT session_id, gate, healthy FROM model_health ORDER BY as_of');
      expect(gates.rows.map((r) => [r.session_id, r.gate])).toEqual([
        [ids.before, 'proceed'],
        [ids.drifted, 'abstain'],
        [expect.any(String), 'abstain'],
        [ids.overridden, 'overridden'],
      ]);
    } finally {
      await db.close();
    }
  });

  it.sequential('`quorum halt --model` switches one model off (risk denies MODEL_KILL_SWITCH); `positions` and the API show why', async () => {
    expect(ok(await q('halt', '--model', 'default', '--reason', 'too many surprises')).stdout).toBe(
      'model default HALTED (manual: too many surprises); halted models: default\n',
    );
    const positions = ok(await q('positions'));
    expect(positions.stdout).toContain('trading ACTIVE');
    expect(positions.stdout).toMatch(/^circuit breakers: not tripped \(\d+ closed trades/m);
    expect(positions.stdout).toMatch(/^model default HALTED \(manual: too many surprises, by cli at /m);
    const halted = ok(await q('session', 'run', '--as-of', '1996-09-06T16:30:00Z', '--backend', 'rules', '--json'));
    const out = Outcome.parse(jsonOf(halted));
    const decisions = z
      .array(
        z
          .object({ decision: z.object({ action: z.string(), rules: z.array(z.object({ rule: z.string(), passed: z.boolean() }).passthrough()) }).nullable() })
          .passthrough(),
      )
      .parse(out.judged);
    expect(decisions.length).toBeGreaterThan(0);
    for (const j of decisions) {
      expect(j.decision?.action).toBe('DENY');
      expect(j.decision?.rules).toContainEqual(expect.objectContaining({ rule: 'MODEL_KILL_SWITCH', passed: false }));
    }

    const control = z
      .object({ token: z.string() })
      .passthrough()
      .parse(jsonOf(ok(await q('token', 'create', '--scope', 'control', '--json')))).token;
    const port = await freePort();
    const server = spawnQuorum(['serve', '--port', String(port)], env);
    try {
      const [, url = ''] = await server.waitFor(/quorum API on (http:\/\/\S+) /, { timeoutMs: 90_000 });
      const get = async (p: string): Promise<unknown> => {
        const res = await fetch(`${url}${p}`, { headers: { authorization: `Bearer ${control}` } });
        expect(res.status, p).toBe(200);
        return res.json();
      };
      const post = (p: string, body: unknown): Promise<Response> =>
        fetch(`${url}${p}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${control}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect(await get(`/v1/sessions/${ids.drifted}`)).toMatchObject({
        status: 'skipped',
        modelHealth: { gate: 'abstain', healthy: false, modelId: 'default', report: { healthy: false } },
      });
      expect(await get(`/v1/sessions/${ids.overridden}`)).toMatchObject({ modelHealth: { gate: 'overridden', healthy: false } });
      expect(await get('/v1/portfolio/breakers')).toMatchObject({
        breaker: { state: 'ACTIVE' },
        trip: null,
        killedModels: ['default'],
        haltedModels: [{ modelId: 'default', reason: 'manual: too many surprises', actor: 'cli' }],
      });
      const missing = await post('/v1/controls/models/resume', { modelId: 'default' });
      expect(missing.status).toBe(400);
      expect(await missing.text()).toContain('reason');
      const resumed = await post('/v1/controls/models/resume', { modelId: 'default', reason: 'reviewed' });
      expect(resumed.status).toBe(200);
      expect(await resumed.json()).toEqual({ haltedModels: [] });
      const again = await post('/v1/controls/models/resume', { modelId: 'default', reason: 'twice' });
      expect(again.status).toBe(404);
    } finally {
      expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    }
  });
});
