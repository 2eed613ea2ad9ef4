/// <reference lib="dom" />
/**
 * The web console in headless Chromium against the real app over HTTP: a PGlite database with a real
 * session stopped for approval (rules baseline, paper exchange) plus a hand-written audit chain whose
 * verdict cites a news item. One browser, one server; the page calls /v1 with the tab's token.
 */
import { serve, type ServerType } from '@hono/node-server';
import { copyFileSync, existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, createApp } from '../../api/index.ts';
import { PROJECT_ROOT, createLogger, loadConfig } from '../../config/index.ts';
import { startPaperExchange, type RunningPaperExchange } from '../../execution/index.ts';
import { ingestPriceCsv, newYorkToUtc } from '../../market/index.ts';
import { registerModel } from '../../ml/index.ts';
import { buildSessionEnv, runSession, type BuiltEnv, type SessionOutcome } from '../../sessions/index.ts';
import { freshPglite, type TestDb } from '../support/db.ts';
import { CHAIN, seedChain } from '../support/seed-chain.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && process.env.QUORUM_REQUIRE_BROWSER === '1') {
  throw new Error(`QUORUM_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: run scripts/setup-chromium.sh`);
}
if (!existsSync(path.join(PROJECT_ROOT, 'web/dist/app.js'))) throw new Error('web/dist/app.js is missing: run npm run build (npm ci runs it)');

const AS_OF = newYorkToUtc('1999-06-01', 12, 30);
/** The README's screenshot, rewritten when QUORUM_WRITE_SCREENSHOT=1. */
const README_SHOT = path.join(PROJECT_ROOT, 'docs/console-session.png');

/// <reference lib="dom" />
/**
 * The spread of pixel values inside `box` of a PNG screenshot, decoded by the browser itself: a blank
 * (or single-colour) region has a spread near 0, a drawn chart or a filled table a large one.
 */
async function pixelSpread(page: Page, png: Buffer, box: { x: number; y: number; width: number; height: number }): Promise<number> {
  return page.evaluate(
    async ({ data, b }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${data}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d');
      if (!ctx) return 0;
      ctx.drawImage(img, 0, 0);
      const px = ctx.getImageData(Math.round(b.x), Math.round(b.y), Math.max(1, Math.round(b.width)), Math.max(1, Math.round(b.height))).data;
      let sum = 0;
      let sq = 0;
      const n = px.length / 4;
      for (let i = 0; i < px.length; i += 4) {
        const v = ((px[i] ?? 0) + (px[i + 1] ?? 0) + (px[i + 2] ?? 0)) / 3;
        sum += v;
        sq += v * v;
      }
      return Math.sqrt(sq / n - (sum / n) ** 2);
    },
    { data: png.toString('base64'), b: box },
  );
}

async function boxOf(l: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  const box = await l.boundingBox();
  if (!box) throw new Error('element not laid out');
  return box;
}

describe.skipIf(!hasBrowser)('the web console in Chromium', () => {
  let t: TestDb;
  let exchange: RunningPaperExchange;
  let built: BuiltEnv;
  let server: ServerType;
  let browser: Browser;
  let page: Page;
  let base: string;
  let read: string;
  let control: string;
  let session: SessionOutcome;

  beforeAll(async () => {
    t = await freshPglite();
    const config = loadConfig({ env: { QUORUM_MODELS__LLM__BACKEND: 'rules', QUORUM_SETTINGS__EXECUTION__REQUIRE_APPROVAL: 'true' } });
    const [, launched] = await Promise.all([
      ingestPriceCsv(t.db, path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv')),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      }),
    ]);
    browser = launched;
    exchange = await startPaperExchange({ db: t.db, settings: config.settings.execution.paperExchange, port: 0, initialNow: AS_OF });
    const log = createLogger({ ...config, settings: { ...config.settings, logging: { level: 'silent' } } });
    built = await buildSessionEnv(t.db, config, log, { paperExchangeUrl: exchange.url, now: () => AS_OF });
    await registerModel(t.db, built.env.proposer.card, config.models.proposer.cardPath, 'production');
    session = await runSession(built.env, { asOf: AS_OF, kind: 'manual', slot: 'console-test' });
    await seedChain(t.db);
    for (const [i, e] of [100_000, 100_400, 99_800, 100_900, 101_300].entries()) {
      await t.db.query(`INSERT INTO equity_history (ts, equity, cash, source) VALUES ($1, $2, $2, 'paper')`, [
        `1999-05-${String(24 + i).padStart(2, '0')}T20:00:00Z`,
        e,
      ]);
    }
    read = (await createApiToken(t.db, 'viewer', 'read')).token;
    control = (await createApiToken(t.db, 'desk', 'control')).token;
    const app = createApp({ db: t.db, config, session: built.env });
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (server) await new Promise<void>((r) => server.close(() => r()));
    await built?.close();
    await exchange?.close();
    await t?.cleanup();
  });

  const signIn = async (token: string): Promise<void> => {
    await page.goto(`${base}/#/sessions`);
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    // With the keyboard only: the field has focus, Enter submits.
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await page.locator('#sessions').waitFor();
  };

  it.sequential('refuses a wrong token, then signs in and lists the sessions', async () => {
    await page.goto(`${base}/`);
    await page.locator('#token').fill('qrm_not-a-token');
    await page.locator('#sign-in button').click();
    await page.locator('#sign-in [role=alert]', { hasText: '401 UNAUTHORIZED: invalid or revoked token' }).waitFor();
    await signIn(read);
    const rows = page.locator('#sessions tbody tr');
    await expect(rows.count()).resolves.toBe(2);
    await expect(page.locator('#sessions').innerText()).resolves.toContain(CHAIN.session);
  });

  it.sequential(
    'opens a session and a proposal: attributions, debate, verdict, risk rules with numbers, fills, chart; a citation opens its news item',
    async () => {
      await page.locator(`#sessions a[href="#/sessions/${CHAIN.session}"]`).click();
      const verdicts = page.locator('#verdicts');
      await expect(verdicts.innerText()).resolves.toMatch(/XOM\s+buy\s+0\.620\s+1\.0%\s+REDUCE\s+0\.50\s+RESIZE\s+25/);
      await verdicts.locator('a', { hasText: 'XOM' }).click();
      await page.locator('#debate').waitFor();
      await expect(page.locator('#verdict h2').innerText()).resolves.toBe('Verdict: REDUCE, size ×0.50, confidence 0.70');
      await expect(page.locator('#verdict').innerText()).resolves.toContain('bear: valuation stretched');
      await expect(page.locator('#risk-rules').innerText()).resolves.toMatch(/MAX_POSITION_PCT\s+NO\s+MAX_POSITION_PCT: 12\.1% > 10% -> resized/);
      await expect(page.locator('#risk-rules caption').innerText()).resolves.toBe('Risk: RESIZE, 40 requested → 25, stop 58.10, target 66.30 (ACTIVE)');
      await expect(page.locator('#fills').innerText()).resolves.toMatch(/ord_test1\s+buy\s+25\s+filled\s+25\s+62\.10\s+1999-06-02 13:30:00 UTC/);
      const canvas = page.locator('#price-chart canvas').first();
      await canvas.waitFor();
      expect((await boxOf(canvas)).width).toBeGreaterThan(600);

      // The screenshot shows a drawn chart and a filled verdict table (pixel spread in their boxes).
      const shot = await page.screenshot({ fullPage: true });
      const chartSpread = await pixelSpread(page, shot, await boxOf(page.locator('#price-chart')));
      const tableSpread = await pixelSpread(page, shot, await boxOf(page.locator('#risk-rules')));
      const blankSpread = await pixelSpread(page, shot, { x: 0, y: 0, width: 5, height: 5 });
      expect(chartSpread).toBeGreaterThan(10);
      expect(tableSpread).toBeGreaterThan(10);
      expect(blankSpread).toBeLessThan(1);
      if (process.env.QUORUM_WRITE_SCREENSHOT === '1') {
        const file = path.join(tmpdir(), 'console-session.png');
        await page.screenshot({ path: file, fullPage: true });
        copyFileSync(file, README_SHOT);
      }

      // The verdict's reason cites the news item: the link opens it, with its published time.
      const cite = page.locator('#verdict a.cite-news');
      await expect(cite.innerText()).resolves.toBe('Crude prices cut (1999-05-30 12:00:00 UTC)');
      await cite.focus();
      await page.keyboard.press('Enter');
      await page.locator('h1', { hasText: 'Crude prices cut' }).waitFor();
      await expect(page.locator('#news-meta').innerText()).resolves.toBe('reuters, published 1999-05-30 12:00:00 UTC');
    },
  );

  it.sequential('fits a phone: no page-wide horizontal scroll on the proposal, session, approvals, portfolio and audit pages', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/#/proposals/${CHAIN.proposal}`);
    await page.locator('#price-chart canvas').first().waitFor();
    await expect(page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(390);
    for (const [hash, ready] of [
      [`#/sessions/${CHAIN.session}`, '#orders'],
      ['#/approvals', '.approval'],
      ['#/portfolio', '#positions'],
      [`#/audit/${CHAIN.order}`, 'text=The chain is complete.'],
    ] as const) {
      await page.goto(`${base}/${hash}`);
      await page.locator(ready).first().waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), hash).toBeLessThanOrEqual(390);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it.sequential('refuses an approval with the read scope and takes it with the control scope; the queue updates', async () => {
    const waiting = session.judged.filter((j) => j.pendingApproval);
    expect(waiting.length).toBeGreaterThanOrEqual(1);
    const id = waiting[0]?.pendingApproval ?? '';
    await page.goto(`${base}/#/approvals`);
    const card = page.locator(`.approval[data-id="${id}"]`);
    await card.waitFor();
    await expect(page.locator('.approval').count()).resolves.toBe(waiting.length);
    await expect(card.locator('h2').innerText()).resolves.toMatch(/— committee (APPROVE|REDUCE) ×/);
    await card.locator('input').fill('trend intact');
    await card.locator('button.approve').click();
    await card.locator('[role=status]', { hasText: 'refused: 403 FORBIDDEN: this route needs a token with the control scope' }).waitFor();

    await signIn(control);
    await page.goto(`${base}/#/approvals`);
    await card.locator('input').fill('trend intact');
    await card.locator('button.approve').click();
    // The list is read again once the decision lands: the approved order leaves the queue.
    await card.waitFor({ state: 'detached' });
    await expect(page.locator('.approval').count()).resolves.toBe(waiting.length - 1);
    const stored = await t.db.query<{ status: string; decided_by: string; reason: string }>('SELECT status, decided_by, reason FROM approvals WHERE id = $1', [
      id,
    ]);
    expect(stored.rows[0]).toEqual({ status: 'approved', decided_by: 'api:desk', reason: 'trend intact' });
    const orders = await t.db.query('SELECT o.id FROM orders o JOIN order_intents i ON i.id = o.intent_id WHERE i.ticker = $1', [waiting[0]?.proposal.ticker]);
    expect(orders.rows.length).toBe(1);
  });

  it.sequential('halts and resumes trading from the portfolio page, each with a reason and a confirmation', async () => {
    await page.goto(`${base}/#/portfolio`);
    await page.locator('#trading-state', { hasText: /^Trading: ACTIVE/ }).waitFor();
    await page.locator('#equity-chart canvas').first().waitFor();
    await page.locator('#switch-reason').fill('desk review');
    await page.locator('#switch').click();
    // Not confirmed: the browser's own validation holds the form back.
    await expect(page.locator('#trading-state').innerText()).resolves.toMatch(/^Trading: ACTIVE/);
    await page.locator('#switch-confirm').check();
    await page.locator('#switch').click();
    await page.locator('#trading-state', { hasText: /^Trading: HALTED — desk review/ }).waitFor();
    await page.locator('#switch-reason').fill('review done');
    await page.locator('#switch-confirm').check();
    await page.locator('#switch').click();
    await page.locator('#trading-state', { hasText: /^Trading: ACTIVE — review done/ }).waitFor();
    const audit = await t.db.query<{ to: string; actor: string }>(
      `SELECT payload->>'to' AS to, payload->>'actor' AS actor FROM audit_events WHERE kind = 'trading_state.changed' ORDER BY id`,
    );
    expect(audit.rows).toEqual([
      { to: 'HALTED', actor: 'api:desk' },
      { to: 'ACTIVE', actor: 'api:desk' },
    ]);
  });

  it.sequential("the console's reads go through the API's auth and validation like any client's", async () => {
    const get = (p: string, token?: string): Promise<Response> => fetch(`${base}${p}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    expect((await get(`/v1/console/proposals/${CHAIN.proposal}`)).status).toBe(401);
    const missing = await get('/v1/console/news/news:nope', read);
    expect(missing.status).toBe(404);
    await expect(missing.json()).resolves.toEqual({ error: 'NOT_FOUND', message: 'no news item news:nope' });
    const bad = await get('/v1/console/equity?limit=1', read);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual(['query.limit']);
    const tool = (await (await get(`/v1/console/tool-calls/${CHAIN.toolCall}`, read)).json()) as { tool: string; retrievals: Array<{ news_id: string }> };
    expect(tool.tool).toBe('news_search');
    expect(tool.retrievals.map((r) => r.news_id)).toEqual([CHAIN.news]);
    const equity = (await (await get('/v1/console/equity', read)).json()) as { points: Array<{ equity: number }> };
    expect(equity.points.map((p) => p.equity).slice(0, 5)).toEqual([100_000, 100_400, 99_800, 100_900, 101_300]);
  });

  it.sequential('streams a critique node by node on the live page', async () => {
    await page.goto(`${base}/#/live`);
    await page.locator('#live-ticker').fill('DIS');
    await page.locator('#live-asof').fill('1999-06-01');
    await page.locator('#live-form button').click();
    await page.locator('#live-events li[data-event="verdict"]').waitFor();
    const events = await page.locator('#live-events li').evaluateAll((els) => els.map((e) => e.getAttribute('data-event')));
    expect(events[0]).toBe('run_started');
    expect(events.filter((e) => e === 'node_finished').length).toBeGreaterThanOrEqual(4);
    expect(events.at(-1)).toBe('verdict');
  });

  it.sequential('shows the chain of an order pasted on the audit page', async () => {
    await page.goto(`${base}/#/audit`);
    await page.locator('#order-id').fill(CHAIN.order);
    await page.keyboard.press('Enter');
    await page.locator('main', { hasText: 'The chain is complete.' }).waitFor();
    await expect(page.locator('main').innerText()).resolves.toContain('Crude prices cut');
  });
});
