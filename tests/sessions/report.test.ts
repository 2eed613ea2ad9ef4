import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSessionReport } from '../../sessions/report.ts';
import { equityChartSvg, riskReason } from '../../sessions/report-render.ts';
import { freshPglite, type TestDb } from '../support/db.ts';
import { CHAIN, seedChain } from '../support/seed-chain.ts';
import { hasBrowser, launchChromium } from '../support/browser.ts';

describe('session report', () => {
  let t: TestDb;
  let dir: string;
  beforeAll(async () => {
    t = await freshPglite();
    await seedChain(t.db);
    const equity = [100_000, 100_400, 99_800, 100_900, 101_300];
    for (const [i, e] of equity.entries()) {
      await t.db.query(`INSERT INTO equity_history (ts, equity, cash, source) VALUES ($1, $2, $2, 'paper')`, [
        `1999-05-${String(24 + i).padStart(2, '0')}T20:00:00Z`,
        e,
      ]);
    }
    await t.db.query(`UPDATE sessions SET finished_at = '1999-06-01T21:00:00Z' WHERE id = $1`, [CHAIN.session]);
    dir = mkdtempSync(path.join(tmpdir(), 'quorum-report-'));
  });
  afterAll(() => t.cleanup());

  it('writes Markdown with the verdicts, every risk rule with its numbers, the orders and the usage per agent', async () => {
    const out = await writeSessionReport(t.db, CHAIN.session, dir, '1999-06-02T00:00:00.000Z');
    const md = readFileSync(out.markdown, 'utf8');
    expect(md).toContain(`# Quorum session ${CHAIN.session}`);
    expect(md).toMatch(
      /\| XOM \| buy \| 0\.620 \| 1\.0% \| REDUCE \| 0\.50 \| 0\.70 \| RESIZE 25\/40 \(cut by MAX_POSITION_PCT\) \| buy 25 filled @ 62\.10 \|/,
    );
    expect(md).toContain('| MAX_POSITION_PCT | **no** | MAX_POSITION_PCT: 12.1% > 10% -> resized |');
    expect(md).toContain('| MAX_POSITIONS | yes | MAX_POSITIONS: open=3 limit=12 |');
    expect(md).toContain('| analyst | 1 | 900 | 120 | 1500 |');
    expect(md).toContain(`![equity](equity-${CHAIN.session}.svg)`);
    expect(out.svg && readFileSync(out.svg, 'utf8')).toContain('<svg id="equity-chart"');
    const stored = await t.db.query<{ report_path: string }>('SELECT report_path FROM sessions WHERE id = $1', [CHAIN.session]);
    expect(stored.rows[0]?.report_path).toBe(out.html);
  });

  it('draws no chart without history and says so', () => {
    expect(equityChartSvg([])).toBeNull();
    expect(equityChartSvg([{ ts: '1999-01-01T00:00:00Z', equity: 1 }])).toBeNull();
    const svg = equityChartSvg([
      { ts: '1999-01-01T00:00:00Z', equity: 100 },
      { ts: '1999-01-02T00:00:00Z', equity: 90 },
    ]);
    expect(svg).toContain('stroke="#cf222e"');
  });

  it.skipIf(!hasBrowser)('opens in headless Chromium, and a screenshot shows the verdict table and the chart', async () => {
    const out = await writeSessionReport(t.db, CHAIN.session, dir, '1999-06-02T00:00:00.000Z');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(`file://${out.html}`);
      const table = page.locator('#verdicts');
      await expect(table.isVisible()).resolves.toBe(true);
      expect(await table.locator('tr[data-ticker="XOM"] td.decision').innerText()).toBe('REDUCE');
      const chart = page.locator('#equity-chart');
      const box = await chart.boundingBox();
      expect(box?.width).toBeGreaterThan(600);
      expect(box?.height).toBeGreaterThan(200);
      expect(await chart.locator('path').count()).toBe(2);
      const shot = path.join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(20_000);
    } finally {
      await browser.close();
    }
  });
});

describe('riskReason: why risk did what it did, in a few words', () => {
  const rules = (failed: string[]): Array<{ rule: string; passed: boolean; detail: string }> =>
    ['DECISION_ALLOWED', 'MARKET_HOURS', 'MIN_NOTIONAL', 'SIZE_MULTIPLIER', 'NO_CROSS_ZERO'].map((rule) => ({
      rule,
      passed: !failed.includes(rule),
      detail: `${rule}: …`,
    }));
  const item = (action: string, failed: string[], decision: string, limitedBy: string[] = []): Parameters<typeof riskReason>[0] => ({
    verdict: { id: 'v', decision, sizeMultiplier: 1, confidence: 0.7, backend: 'rules', reasons: [], abstainReason: null },
    risk: { id: 'r', action, requestedQty: 100, finalQty: action === 'DENY' ? 0 : 40, stop: null, target: null, rules: rules(failed), limitedBy },
  });

  it('names the committee, not the size rules that fail as a consequence, when the committee asked for no trade', () => {
    expect(riskReason(item('DENY', ['DECISION_ALLOWED', 'MIN_NOTIONAL', 'SIZE_MULTIPLIER'], 'REJECT'))).toBe('committee REJECT');
    expect(riskReason(item('DENY', ['DECISION_ALLOWED', 'MARKET_HOURS'], 'ABSTAIN'))).toBe('committee ABSTAIN');
  });

  it('names the failed rules of an approved order, MIN_NOTIONAL only when it is the cause', () => {
    expect(riskReason(item('DENY', ['NO_CROSS_ZERO', 'MIN_NOTIONAL'], 'APPROVE'))).toBe('denied by NO_CROSS_ZERO');
    expect(riskReason(item('DENY', ['MIN_NOTIONAL'], 'APPROVE'))).toBe('denied by MIN_NOTIONAL');
  });

  it('names the cap that set a RESIZE, and nothing for an order allowed as requested', () => {
    expect(riskReason(item('RESIZE', [], 'APPROVE', ['SECTOR_CAP']))).toBe('cut by SECTOR_CAP');
    expect(riskReason(item('ALLOW', [], 'APPROVE'))).toBe('-');
    expect(riskReason({ verdict: null, risk: null })).toBe('-');
  });
});
