/**
 * A live session refreshes its bars (the real Alpaca SDK against a local server speaking Alpaca's data
 * API) and news (the configured feeds, a local RSS server) before it proposes, stores what it found, and
 * trades nothing when its inputs are stale or cannot be refreshed: stored as skipped, its report says why.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger, loadConfig } from '../../config/index.ts';
import { startPaperExchange } from '../../execution/index.ts';
import { ingestPriceCsv } from '../../market/index.ts';
import { buildSessionEnv, runSession, type RunSessionOptions, type SessionOutcome } from '../../sessions/index.ts';
import { InputRefresh } from '../../sessions/refresh.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { MSFT_CSV } from '../support/committee.ts';
import { rssDocument, startFeedServer, type FeedServer } from '../support/feed-server.ts';

// The bundled MSFT file ends 2001-09-27 (a Thursday): at 2001-10-03 it is 3 trading days old.
const AS_OF = '2001-10-03T16:00:00.000Z';
const FRESH_BARS = {
  bars: {
    MSFT: [
      { t: '2001-09-28T04:00:00Z', o: 55.5, h: 57.2, l: 55.1, c: 56.9, v: 51_000_000 },
      { t: '2001-10-01T04:00:00Z', o: 56.5, h: 57.0, l: 55.0, c: 55.4, v: 37_000_000 },
      { t: '2001-10-02T04:00:00Z', o: 55.6, h: 56.3, l: 54.9, c: 56.1, v: 40_000_000 },
    ],
  },
  next_page_token: null,
};
const feed = (pubDate: string, title: string): string =>
  rssDocument('wire', [{ title, link: `https://news.example/${encodeURIComponent(title)}`, description: `${title}, Microsoft Corp said.`, pubDate }]);

const SessionRow = z.object({ status: z.string(), error: z.string().nullable(), inputs: InputRefresh.nullable(), report_path: z.string().nullable() });

describe.each(BACKENDS)('live session inputs on $name', ({ open, available }) => {
  let t: TestDb;
  let server: FeedServer;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'quorum-refresh-'));

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    await ingestPriceCsv(t.db, MSFT_CSV, { ticker: 'MSFT' });
    server = await startFeedServer({
      '/v2/stocks/bars': { body: JSON.stringify(FRESH_BARS), contentType: 'application/json' },
      '/hang/v2/stocks/bars': { body: '{}', hang: true },
      '/old.rss': { body: feed('Mon, 03 Sep 2001 14:00:00 GMT', 'Microsoft ships a service pack') },
      '/fresh.rss': { body: feed('Wed, 03 Oct 2001 13:00:00 GMT', 'Microsoft opens a research lab in Beijing') },
    });
  }, 120_000);

  afterAll(async () => {
    if (!available) return;
    await server.close();
    await t.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** One live session at AS_OF with these settings overrides, against a paper exchange of its own. */
  async function live(slot: string, env: Record<string, string>): Promise<{ outcome: SessionOutcome; row: z.infer<typeof SessionRow>; markdown: string }> {
    const config = loadConfig({
      env: {
        QUORUM_MODELS__LLM__BACKEND: 'rules',
        QUORUM_SETTINGS__LOGGING__LEVEL: 'silent',
        QUORUM_DATA_DIR: dataDir,
        ...(t.url ? { DATABASE_URL: t.url } : {}),
        ...env,
      },
    });
    const exchange = await startPaperExchange({ db: t.db, settings: config.settings.execution.paperExchange, port: 0, initialNow: AS_OF });
    const built = await buildSessionEnv(t.db, config, createLogger(config), { exchangeClock: true, paperExchangeUrl: exchange.url, now: () => AS_OF });
    try {
      const options: RunSessionOptions = { asOf: AS_OF, kind: 'scheduled', slot, live: true, topN: 1, tickers: ['MSFT'] };
      const outcome = await runSession(built.env, options);
      const res = await t.db.query('SELECT status, error, inputs, report_path FROM sessions WHERE slot = $1', [slot]);
      const row = SessionRow.parse(res.rows[0]);
      const markdown = outcome.report ? readFileSync(outcome.report.markdown, 'utf8') : '';
      return { outcome, row, markdown };
    } finally {
      await built.close();
      await exchange.close();
    }
  }

  const alpaca = (path: string): Record<string, string> => ({
    ALPACA_API_KEY_ID: 'key',
    ALPACA_API_SECRET_KEY: 'secret',
    QUORUM_SETTINGS__MARKET__ALPACA_DATA_URL: `${server.baseUrl}${path}`,
  });

  it.skipIf(!available)(
    'without a bar source, stale stored bars: the session is stored as skipped, trades nothing, and its report names the setting',
    async () => {
      const { outcome, row, markdown } = await live('no-source', {});
      expect(outcome.skipped).toMatch(/^bars: .*2001-09-27.*settings\.yaml sessions\.maxBarAgeTradingDays/);
      expect(outcome.judged).toEqual([]);
      expect(row).toMatchObject({ status: 'skipped', error: outcome.skipped });
      expect(row.inputs?.bars).toMatchObject({ source: 'stored', stored: 0, error: null });
      expect(row.inputs?.bars.newest?.slice(0, 10)).toBe('2001-09-27');
      expect(markdown).toContain(`**Traded nothing: ${outcome.skipped ?? ''}**`);
      expect(markdown).toContain('- inputs: bars from the stored data (0 new, newest 2001-09-27');
      const orders = await t.db.query(`SELECT count(*)::int AS n FROM order_intents i JOIN sessions s ON s.id = i.session_id WHERE s.slot = 'no-source'`);
      expect(orders.rows).toEqual([{ n: 0 }]);
    },
  );

  it.skipIf(!available)('a bar source that does not answer within sessions.refreshTimeoutMs: skipped, saying so', async () => {
    const { outcome, row, markdown } = await live('hang', { ...alpaca('/hang'), QUORUM_SETTINGS__SESSIONS__REFRESH_TIMEOUT_MS: '400' });
    expect(outcome.skipped).toBe('bars could not be refreshed: bar refresh timed out after 400 ms (settings.yaml sessions.refreshTimeoutMs)');
    expect(row.status).toBe('skipped');
    expect(row.inputs?.bars).toMatchObject({ source: 'alpaca', stored: 0 });
    expect(markdown).toContain('failed: bar refresh timed out after 400 ms');
  });

  it.skipIf(!available)('with feeds configured, news older than sessions.maxNewsAgeHours: skipped even on fresh bars', async () => {
    const { outcome, row } = await live('old-news', { ...alpaca(''), QUORUM_SETTINGS__NEWS__FEEDS: `[{ name: wire, url: "${server.url('/old.rss')}" }]` });
    expect(outcome.skipped).toMatch(
      /^stale news: the newest item \(2001-09-03T14:00:00\.000Z\) is 722\.0 h old, more than 72 h \(settings\.yaml sessions\.maxNewsAgeHours\)$/,
    );
    expect(row.inputs?.news).toMatchObject({ feeds: 1, inserted: 1, errors: [] });
    // The bars were refreshed all the same.
    expect(row.inputs?.bars).toMatchObject({ source: 'alpaca', stored: 3, error: null });
  });

  it.skipIf(!available)('fresh bars from the data API and fresh news: the session proposes and judges, its inputs stored with it', async () => {
    const { outcome, row, markdown } = await live('fresh', {
      ...alpaca(''),
      QUORUM_SETTINGS__NEWS__FEEDS: `[{ name: wire, url: "${server.url('/fresh.rss')}" }]`,
    });
    expect(outcome.skipped).toBeNull();
    expect(row).toMatchObject({ status: 'completed', error: null });
    expect(row.inputs?.bars.newest?.slice(0, 10)).toBe('2001-10-02');
    expect(row.inputs?.news).toMatchObject({ feeds: 1, inserted: 1, newest: '2001-10-03T13:00:00.000Z', errors: [] });
    expect(outcome.judged.length).toBe(1);
    expect(outcome.judged[0]?.verdict?.proposalId).toBe(outcome.judged[0]?.proposal.id);
    expect(markdown).toContain('- inputs: bars from the Alpaca data API (');
    expect(markdown).not.toContain('Traded nothing');
  });
});
