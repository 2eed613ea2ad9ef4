/**
 * A session's time is checked before anything is stored (sessions/run.ts): a past time must be a
 * trading day inside the stored bars and needs the paper exchange. (A live session's stale inputs end
 * it as skipped, with a report: tests/sessions/refresh.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '../../config/index.ts';
import { QuorumError } from '../../contracts/index.ts';
import { startPaperExchange } from '../../execution/index.ts';
import { ingestPriceCsv } from '../../market/index.ts';
import { buildSessionEnv, runSession, type BuiltEnv, type RunSessionOptions } from '../../sessions/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { MSFT_CSV } from '../support/committee.ts';

describe.each(BACKENDS)('session times on $name', ({ open, available }) => {
  let t: TestDb;
  let paper: BuiltEnv;
  let alpaca: BuiltEnv;

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    await ingestPriceCsv(t.db, MSFT_CSV, { ticker: 'MSFT' });
    const env = { QUORUM_MODELS__LLM__BACKEND: 'rules', QUORUM_SETTINGS__LOGGING__LEVEL: 'silent', ...(t.url ? { DATABASE_URL: t.url } : {}) };
    const config = loadConfig({ env });
    paper = await buildSessionEnv(t.db, config, createLogger(config), { exchangeClock: true });
    const alpacaConfig = loadConfig({
      env: { ...env, QUORUM_SETTINGS__EXECUTION__BROKER: 'alpaca', ALPACA_API_KEY_ID: 'key', ALPACA_API_SECRET_KEY: 'secret' },
    });
    alpaca = await buildSessionEnv(t.db, alpacaConfig, createLogger(alpacaConfig));
  }, 120_000);

  afterAll(async () => {
    if (!available) return;
    await paper.close();
    await alpaca.close();
    await t.cleanup();
  });

  async function refused(built: BuiltEnv, options: RunSessionOptions): Promise<QuorumError> {
    const error = await runSession(built.env, options).then(
      () => null,
      (e: unknown) => e,
    );
    if (!QuorumError.is(error, 'INPUT_INVALID')) throw new Error(`expected INPUT_INVALID, got ${String(error)}`);
    return error;
  }

  it.skipIf(!available)('refuses a session at a past time that is no trading day or has no bar after it', async () => {
    const saturday = await refused(paper, { asOf: '2001-06-02T16:30:00.000Z', kind: 'manual', slot: 'saturday', asOfLabel: '--as-of' });
    expect(saturday.message).toContain(
      '--as-of 2001-06-02T16:30:00.000Z is not a trading day (a Saturday): the previous trading day is 2001-06-01, the next 2001-06-04',
    );
    const last = await refused(paper, { asOf: '2001-09-27T20:00:00.000Z', kind: 'manual', slot: 'last' });
    expect(last.message).toContain('asOf 2001-09-27 has no stored bar after it to fill its orders at; available dates: 2000-12-07..2001-09-26');
    expect((await t.db.query('SELECT id FROM sessions')).rows).toEqual([]);
  });

  it.skipIf(!available)("refuses a session at a past time on a real broker, which would fill at today's prices", async () => {
    const e = await refused(alpaca, { asOf: '2001-06-01T16:30:00.000Z', kind: 'manual', slot: 'alpaca', asOfLabel: '--as-of' });
    expect(e.details).toMatchObject({ field: 'asOf', broker: 'alpaca-paper' });
    expect(e.message).toContain(
      '--as-of 2001-06-01T16:30:00.000Z: a session at a past time needs the local paper exchange (settings.yaml execution.broker: paper-exchange)',
    );
    expect((await t.db.query('SELECT id FROM sessions')).rows).toEqual([]);
  });
  it.skipIf(!available)('runs a slot again after it failed (here: no paper exchange listening), and not after it completed', async () => {
    const options: RunSessionOptions = { asOf: '2001-06-01T16:30:00.000Z', kind: 'manual', slot: 'retry', topN: 1 };
    // The env's exchange clock points at a port where nothing listens: the session fails and says so.
    const down = await runSession(paper.env, options).then(
      () => null,
      (e: unknown) => e,
    );
    expect(QuorumError.is(down, 'BROKER_ERROR')).toBe(true);
    expect((await t.db.query(`SELECT status FROM sessions WHERE slot = 'retry'`)).rows).toEqual([{ status: 'failed' }]);

    const config = loadConfig({
      env: { QUORUM_MODELS__LLM__BACKEND: 'rules', QUORUM_SETTINGS__LOGGING__LEVEL: 'silent', ...(t.url ? { DATABASE_URL: t.url } : {}) },
    });
    const exchange = await startPaperExchange({ db: t.db, settings: config.settings.execution.paperExchange, port: 0, initialNow: options.asOf });
    const up = await buildSessionEnv(t.db, config, createLogger(config), { exchangeClock: true, paperExchangeUrl: exchange.url });
    try {
      const retried = await runSession(up.env, options);
      expect(retried.created).toBe(true);
      expect((await t.db.query(`SELECT status, error FROM sessions WHERE slot = 'retry'`)).rows).toEqual([{ status: 'completed', error: null }]);
      expect((await runSession(up.env, options)).created).toBe(false);
    } finally {
      await up.close();
      await exchange.close();
    }
  });
});
