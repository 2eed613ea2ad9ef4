import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { z } from 'zod';
import { createMetrics } from '../../api/metrics.ts';
import { BUNDLED_CONFIG_DIR, createLogger, loadConfig, type Config, type Logger } from '../../config/index.ts';
import { appendAudit } from '../../db/index.ts';
import { AlpacaBroker, intentFromDecision, reconcile, setTradingState, startPaperExchange, submitIntent } from '../../execution/index.ts';
import { listDeliveries, readNotificationCounts, requeueFailed, startNotifier, type Notifier } from '../../notify/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { tempConfigDir } from '../support/config-dir.ts';
import { barsFromCloses, decision, exchangeSettings, loadBars, seedDecision } from '../execution/support.ts';
import { startReceiver, type Receiver } from './receiver.ts';

const SLACK_ENV = 'QUORUM_TEST_SLACK_WEBHOOK_URL';
/** The path of the Slack URL stands for its secret token. */
const SLACK_PATH = '/services/T000/B000/secret-token-xyz';

/** The bundled settings.yaml with `notifications` replaced. */
function settingsWith(notifications: Record<string, unknown>): string {
  const settings = YAML.parse(readFileSync(path.join(BUNDLED_CONFIG_DIR, 'settings.yaml'), 'utf8')) as Record<string, unknown>;
  return YAML.stringify({ ...settings, notifications });
}

function configWith(notifications: Record<string, unknown>, env: Record<string, string> = {}): Config {
  const dir = tempConfigDir({ 'settings.yaml': settingsWith(notifications) });
  try {
    return loadConfig({ configDir: dir, env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configError(notifications: Record<string, unknown>, env: Record<string, string> = {}): string {
  try {
    configWith(notifications, env);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('expected the configuration to be refused');
}

/** A logger whose lines are kept. */
function capturedLogger(config: Config): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { log: createLogger(config, stream), lines };
}

const DeliveryRow = z.object({ target: z.string(), kind: z.string(), status: z.string(), attempts: z.number(), last_error: z.string().nullable() });
async function deliveries(t: TestDb): Promise<Array<z.infer<typeof DeliveryRow>>> {
  const res = await t.db.query(
    `SELECT d.target, e.kind, d.status, d.attempts, d.last_error FROM notification_deliveries d JOIN audit_events e ON e.id = d.event_id ORDER BY d.event_id, d.target`,
  );
  return res.rows.map((r) => DeliveryRow.parse(r));
}

const FAST = { timeoutMs: 2000, maxAttempts: 3, backoffMs: 20, pollMs: 50 };

describe.each(BACKENDS)('notifier ($name)', ({ open, available }) => {
  let t: TestDb;
  let rx: Receiver;
  const running: Notifier[] = [];
  const start = async (config: Config, log: Logger = capturedLogger(config).log): Promise<Notifier> => {
    const n = await startNotifier({ db: t.db, config, log });
    running.push(n);
    return n;
  };

  beforeAll(async () => {
    if (available) t = await open();
  });
  afterAll(async () => {
    if (available) await t.cleanup();
  });
  // Each test starts as on a database the notifier never ran on (the audit log itself is append-only).
  beforeEach(async () => {
    if (!available) return;
    await setTradingState(t.db, 'ACTIVE', 'test start', 'test');
    await t.db.exec('DELETE FROM notification_deliveries; DELETE FROM notification_cursor;');
    rx = await startReceiver();
  });
  afterEach(async () => {
    if (!available) return;
    for (const n of running.splice(0)) await n.stop();
    await rx.close();
  });

  it.skipIf(!available)(
    'sends real audit events to a webhook and a Slack target in their formats, each target only its events, never logging a URL',
    async () => {
      const config = configWith(
        {
          ...FAST,
          targets: [
            { name: 'ops', kind: 'webhook', url: rx.url('/hook/token-abc') },
            { name: 'chat', kind: 'slack', urlEnv: SLACK_ENV, events: ['trading_state.changed', 'order.rejected'] },
          ],
        },
        { [SLACK_ENV]: rx.url(SLACK_PATH) },
      );
      const { log, lines } = capturedLogger(config);
      const notifier = await start(config, log);

      // An operator halt and resume (the kill switch's own code path).
      await setTradingState(t.db, 'HALTED', 'operator halt: <broker outage>', 'ops@desk');
      await setTradingState(t.db, 'ACTIVE', 'broker back', 'ops@desk');

      // A buy beyond buying power, refused by the paper exchange (403) through the Alpaca SDK.
      const bars = barsFromCloses(
        'MSFT',
        '2020-01-01',
        Array.from({ length: 40 }, (_, i) => 100 + (i % 3)),
      );
      await loadBars(t.db, bars);
      const now = bars[35]?.ts ?? '';
      const px = await startPaperExchange({ db: t.db, settings: exchangeSettings(), port: 0, initialNow: now });
      try {
        const d = decision({ id: 'rd-too-big', finalQty: 5000, requestedQty: 5000, stop: null, target: null, decidedAt: now });
        await seedDecision(t.db, d);
        const broker = new AlpacaBroker({ mode: 'paper', liveTradingAllowed: false, keyId: 'k', secret: 's', baseUrl: px.url, timeoutMs: 5000 });
        const outcome = await submitIntent(t.db, broker, intentFromDecision(d, 'session-notify'));
        expect(outcome.status).toBe('rejected');
      } finally {
        await px.close();
      }

      // A reconciliation against a broker nobody answers for: reconcile.failed, then the halt.
      const gone = new AlpacaBroker({ mode: 'paper', liveTradingAllowed: false, keyId: 'k', secret: 's', baseUrl: 'http://127.0.0.1:9', timeoutMs: 2000 });
      expect((await reconcile(t.db, gone)).ok).toBe(false);

      await appendAudit(t.db, 'session.completed', 'session', 'slot-2020-02-20-1000', {
        proposals: 5,
        verdicts: 5,
        decisions: 3,
        orders: 1,
        report: { html: '/data/reports/session-slot-2020-02-20-1000.html', markdown: '/data/reports/session-slot-2020-02-20-1000.md' },
      });
      // Not a notified kind: never sent.
      await appendAudit(t.db, 'fill.recorded', 'fill', 'f1', { qty: 1 });

      await notifier.flush(15_000);

      const hook = rx.bodiesAt('/hook/token-abc') as Array<{
        id: number;
        event: string;
        at: string;
        subject: string;
        text: string;
        data: Record<string, unknown>;
      }>;
      expect(hook.map((b) => b.event).sort()).toEqual(
        ['order.rejected', 'reconcile.failed', 'session.completed', 'trading_state.changed', 'trading_state.changed', 'trading_state.changed'].sort(),
      );
      const byId = [...hook].sort((a, b) => a.id - b.id);
      const halt = byId.find((b) => b.event === 'trading_state.changed');
      expect(halt).toEqual({
        id: expect.any(Number),
        event: 'trading_state.changed',
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        subject: 'Trading HALTED',
        text: 'ACTIVE -> HALTED: operator halt: <broker outage> (by ops@desk)',
        data: { entity: 'trading_state', entityId: '1', from: 'ACTIVE', to: 'HALTED', reason: 'operator halt: <broker outage>', actor: 'ops@desk' },
      });
      expect(byId.filter((b) => b.event === 'trading_state.changed').map((b) => b.subject)).toEqual([
        'Trading HALTED',
        'Trading resumed (ACTIVE)',
        'Trading HALTED',
      ]);
      const rejected = hook.find((b) => b.event === 'order.rejected');
      expect(rejected?.subject).toBe('Order rejected: BUY 5000 MSFT');
      expect(rejected?.text).toMatch(/^The broker refused order [0-9a-z-]+: .*buying power/i);
      expect(rejected?.data).toMatchObject({ ticker: 'MSFT', side: 'buy', qty: 5000, sessionId: 'session-notify', status: 'rejected' });
      const recon = hook.find((b) => b.event === 'reconcile.failed');
      expect(recon?.subject).toBe('Reconciliation with paper-exchange failed');
      expect(recon?.text).toMatch(/Trading is HALTED until a clean reconciliation\.$/);
      const done = hook.find((b) => b.event === 'session.completed');
      expect(done?.subject).toBe('Session slot-2020-02-20-1000 completed');
      expect(done?.text).toBe('5 proposals judged, 5 verdicts, 3 risk decisions, 1 orders. Report: /data/reports/session-slot-2020-02-20-1000.html');

      // Slack: only its two kinds, in Slack's incoming-webhook shape, mrkdwn escaped.
      const slack = rx.bodiesAt(SLACK_PATH) as Array<{ text: string; blocks: unknown[] }>;
      expect(slack).toHaveLength(4);
      expect(slack).toContainEqual({
        text: 'Trading HALTED: ACTIVE -&gt; HALTED: operator halt: &lt;broker outage&gt; (by ops@desk)',
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: '*Trading HALTED*\nACTIVE -&gt; HALTED: operator halt: &lt;broker outage&gt; (by ops@desk)' } },
        ],
      });
      expect(slack.filter((b) => b.text.startsWith('Order rejected: BUY 5000 MSFT: The broker refused order'))).toHaveLength(1);

      // Headers: JSON, and one idempotency key per (event, target).
      const first = rx.received[0];
      expect(first?.headers['content-type']).toBe('application/json');
      expect(first?.headers['idempotency-key']).toMatch(/^quorum-\d+-(ops|chat)$/);

      expect((await deliveries(t)).every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
      const logged = lines.join('');
      expect(logged).toContain('notification delivered');
      expect(logged).not.toContain('secret-token-xyz');
      expect(logged).not.toContain('token-abc');
    },
  );

  it.skipIf(!available)('delivers after a receiver answers 500 twice, with the attempts recorded (3)', async () => {
    rx.answer('/flaky', [500, 500]);
    const config = configWith({ ...FAST, targets: [{ name: 'flaky', kind: 'webhook', url: rx.url('/flaky') }] });
    const notifier = await start(config);
    await setTradingState(t.db, 'HALTED', 'daily loss 3.2% >= 3%', 'risk');
    await notifier.flush(10_000);
    expect(await deliveries(t)).toEqual([
      { target: 'flaky', kind: 'trading_state.changed', status: 'delivered', attempts: 3, last_error: 'HTTP 500: receiver says 500' },
    ]);
    const keys = rx.received.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
  });

  it.skipIf(!available)('marks a delivery failed with its error after maxAttempts, and /metrics counts it', async () => {
    rx.answer('/down', [], 503);
    const config = configWith({
      ...FAST,
      targets: [
        { name: 'down', kind: 'webhook', url: rx.url('/down') },
        { name: 'up', kind: 'webhook', url: rx.url('/up') },
      ],
    });
    const notifier = await start(config);
    await appendAudit(t.db, 'session.failed', 'session', 'slot-2020-02-20-1230', { error: 'paper exchange unreachable at 127.0.0.1:8787' });
    await notifier.flush(10_000);
    expect(await deliveries(t)).toEqual([
      { target: 'down', kind: 'session.failed', status: 'failed', attempts: 3, last_error: 'HTTP 503: receiver says 503' },
      { target: 'up', kind: 'session.failed', status: 'delivered', attempts: 1, last_error: null },
    ]);
    expect(rx.bodiesAt('/down')).toHaveLength(3);
    expect(await readNotificationCounts(t.db)).toEqual([
      { status: 'pending', n: 0 },
      { status: 'delivered', n: 1 },
      { status: 'failed', n: 1 },
    ]);
    const text = await createMetrics(t.db).registry.metrics();
    expect(text).toContain('quorum_notifications{status="failed"} 1');
    expect(text).toContain('quorum_notifications{status="delivered"} 1');
    expect(text).toContain('quorum_notifications{status="pending"} 0');

    // Once the receiver is back, a requeue delivers it.
    rx.answer('/down', []);
    expect(await requeueFailed(t.db, 'down')).toBe(1);
    await notifier.flush(10_000);
    expect((await listDeliveries(t.db)).map((d) => [d.target, d.status])).toEqual([
      ['up', 'delivered'],
      ['down', 'delivered'],
    ]);
  });

  it.skipIf(!available)('does not retry a refusal (404): failed after one attempt', async () => {
    rx.answer('/gone', [], 404);
    const notifier = await start(configWith({ ...FAST, targets: [{ name: 'gone', kind: 'webhook', url: rx.url('/gone') }] }));
    await appendAudit(t.db, 'reconcile.failed', 'reconciliation', 'alpaca-paper', { error: 'ECONNRESET' });
    await notifier.flush(10_000);
    expect(await deliveries(t)).toEqual([
      { target: 'gone', kind: 'reconcile.failed', status: 'failed', attempts: 1, last_error: 'HTTP 404: receiver says 404' },
    ]);
  });

  it.skipIf(!available)('records a receiver that does not answer in time as a timeout, never blocking the caller', async () => {
    const config = configWith({ ...FAST, timeoutMs: 200, maxAttempts: 2, targets: [{ name: 'dead', kind: 'webhook', url: 'http://127.0.0.1:9/hook' }] });
    const notifier = await start(config);
    const began = Date.now();
    await setTradingState(t.db, 'HALTED', 'operator halt', 'ops');
    expect(Date.now() - began).toBeLessThan(1000);
    await notifier.flush(10_000);
    const [row] = await deliveries(t);
    expect(row).toMatchObject({ target: 'dead', status: 'failed', attempts: 2 });
    expect(row?.last_error).toMatch(/^fetch failed/);
    expect(row?.last_error).not.toContain('/hook');
  });

  it.skipIf(!available)('stop() does not wait out a backoff: the row is let go, and the next start uses only the attempts left', async () => {
    rx.answer('/slow', [500]);
    const config = configWith({ ...FAST, maxAttempts: 3, backoffMs: 60_000, targets: [{ name: 'slow', kind: 'webhook', url: rx.url('/slow') }] });
    const first = await start(config);
    await appendAudit(t.db, 'session.failed', 'session', 'slot-x', { error: 'boom' });
    const until = Date.now() + 10_000;
    while (rx.received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    const began = Date.now();
    await first.stop();
    expect(Date.now() - began).toBeLessThan(2000);
    const held = await t.db.query('SELECT status, attempts, locked_until FROM notification_deliveries');
    expect(held.rows).toEqual([{ status: 'pending', attempts: 1, locked_until: null }]);

    const second = await start(config);
    await second.flush(10_000);
    expect(await deliveries(t)).toEqual([
      { target: 'slow', kind: 'session.failed', status: 'delivered', attempts: 2, last_error: 'HTTP 500: receiver says 500' },
    ]);
  });

  it.skipIf(!available)('a restarted notifier never resends a delivered event, and sends what was written while it was down', async () => {
    const config = configWith({ ...FAST, targets: [{ name: 'ops', kind: 'webhook', url: rx.url('/hook') }] });
    const first = await start(config);
    await appendAudit(t.db, 'approval.requested', 'approval', 'appr-rd-1', { decision: 'rd-1', ticker: 'MSFT', side: 'buy', qty: 10 });
    await first.flush(10_000);
    await first.stop();
    expect(rx.bodiesAt('/hook')).toHaveLength(1);
    expect(rx.bodiesAt('/hook')[0]).toMatchObject({
      event: 'approval.requested',
      subject: 'Approval pending: BUY 10 MSFT',
      text: 'Approval appr-rd-1 waits for a human answer: `quorum approvals`, or POST /v1/approvals/appr-rd-1 with a control token.',
    });

    await setTradingState(t.db, 'HALTED', 'operator halt', 'ops');
    const second = await start(config);
    await second.flush(10_000);
    const third = await start(config);
    await third.flush(10_000);
    expect((rx.bodiesAt('/hook') as Array<{ event: string }>).map((b) => b.event)).toEqual(['approval.requested', 'trading_state.changed']);
    expect((await deliveries(t)).map((d) => [d.kind, d.status, d.attempts])).toEqual([
      ['approval.requested', 'delivered', 1],
      ['trading_state.changed', 'delivered', 1],
    ]);
  });

  it.skipIf(!available)('starts at the newest event (nothing older is sent) and, with no targets, writes nothing', async () => {
    await setTradingState(t.db, 'HALTED', 'before the notifier', 'ops');
    const none = await start(configWith({ ...FAST, targets: [] }));
    await setTradingState(t.db, 'ACTIVE', 'still no notifier target', 'ops');
    await none.flush(1000);
    expect((await t.db.query('SELECT 1 FROM notification_cursor')).rows).toHaveLength(0);

    const notifier = await start(configWith({ ...FAST, targets: [{ name: 'ops', kind: 'webhook', url: rx.url('/hook') }] }));
    await setTradingState(t.db, 'HALTED', 'after the start', 'ops');
    // Same state again: nothing to tell.
    await setTradingState(t.db, 'HALTED', 'after the start, reason reworded', 'ops');
    await notifier.flush(10_000);
    expect((rx.bodiesAt('/hook') as Array<{ text: string }>).map((b) => b.text)).toEqual(['ACTIVE -> HALTED: after the start (by ops)']);
  });
});

describe('notifications config', () => {
  it('names the field of a bad URL and of an unknown kind', () => {
    expect(configError({ targets: [{ name: 'ops', kind: 'webhook', url: 'not a url' }] })).toContain(
      'settings.yaml: notifications.targets.0.url: expected an http(s) URL',
    );
    expect(configError({ targets: [{ name: 'ops', kind: 'webhook', url: 'ftp://example.com/x' }] })).toContain(
      'notifications.targets.0.url: expected an http(s) URL',
    );
    expect(configError({ targets: [{ name: 'ops', kind: 'pager', url: 'https://example.com/x' }] })).toContain(
      'settings.yaml: notifications.targets.0.kind: Invalid option: expected one of "webhook"|"slack" (got "pager")',
    );
    expect(configError({ targets: [{ name: 'ops', kind: 'webhook', url: 'https://example.com/x', events: ['fill.recorded'] }] })).toContain(
      'notifications.targets.0.events.0: Invalid option',
    );
    expect(configError({ targets: [{ name: 'ops', kind: 'webhook', url: 'https://example.com/x', secret: 'x' }] })).toContain('unknown key(s) "secret"');
  });

  it('takes a Slack URL from the environment only, and never repeats it in an error', () => {
    const inYaml = configError({ targets: [{ name: 'chat', kind: 'slack', url: `https://hooks.slack.com${SLACK_PATH}` }] });
    expect(inYaml).toContain('notifications.targets.0.url: a Slack webhook URL is a secret and is refused in YAML');
    expect(inYaml).not.toContain('secret-token-xyz');
    expect(configError({ targets: [{ name: 'chat', kind: 'slack', urlEnv: SLACK_ENV }] })).toContain(
      `settings.yaml: notifications.targets.0.urlEnv: environment variable ${SLACK_ENV} is not set`,
    );
    const notUrl = configError({ targets: [{ name: 'chat', kind: 'slack', urlEnv: SLACK_ENV }] }, { [SLACK_ENV]: 'secret-token-xyz' });
    expect(notUrl).toContain(`environment variable ${SLACK_ENV} does not hold an http(s) URL`);
    expect(notUrl).not.toContain('secret-token-xyz');
    expect(configError({ targets: [{ name: 'chat', kind: 'webhook' }] })).toContain('notifications.targets.0.url: required');
    expect(
      configError({
        targets: [
          { name: 'a', kind: 'webhook', url: 'https://x.example/1' },
          { name: 'a', kind: 'webhook', url: 'https://x.example/2' },
        ],
      }),
    ).toContain('notifications.targets.1.name: duplicate target name "a"');

    const config = configWith({ targets: [{ name: 'chat', kind: 'slack', urlEnv: SLACK_ENV }] }, { [SLACK_ENV]: `https://hooks.slack.com${SLACK_PATH}` });
    expect(config.secrets.notificationUrls).toEqual({ chat: `https://hooks.slack.com${SLACK_PATH}` });
    const lines: string[] = [];
    const log = createLogger(config, new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }));
    log.error({ err: `POST https://hooks.slack.com${SLACK_PATH} failed` }, 'x');
    expect(lines.join('')).not.toContain('secret-token-xyz');
  });

  it('has no targets by default', () => {
    const config = loadConfig({ env: {} });
    expect(config.settings.notifications).toEqual({ targets: [], timeoutMs: 5000, maxAttempts: 5, backoffMs: 1000, pollMs: 2000 });
  });
});
