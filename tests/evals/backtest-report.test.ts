import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../evals/backtest/metrics.ts';
import { drawdownsSvg, equityCurvesSvg, formatMetric, niceTicks, renderHtmlReport, renderMarkdownSummary } from '../../evals/backtest/report.ts';
import { book, randomCurve, result, run, trade, veto, weekdays } from './backtest-support.ts';
import { hasBrowser, launchChromium } from '../support/browser.ts';

const DATES = weekdays('1998-06-01', 700);
const HOSTILE = '<script>alert("x")</script> & co';
const R = result(
  [
    run('proposer', book(DATES, randomCurve(700, 1)), [trade(12), trade(-4)]),
    run('committee', book(DATES, randomCurve(700, 2)), [trade(5)], [veto(-0.02, 1), veto(0.01, 2)], HOSTILE),
    run('buy_and_hold', book(DATES, randomCurve(700, 3), 1, 0)),
    run('sp500', book(DATES, randomCurve(700, 4), 1, 0)),
  ],
  { notes: ['The S&P 500 series is <b>the index</b>, not a fund.'] },
);
const M = computeMetrics(R, { seed: 1, resamples: 200 });

const svgs = (html: string): string[] => html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];

describe('backtest HTML report', () => {
  const html = renderHtmlReport(R, M);

  it('is one HTML document with the range, critic, metrics table, parameters and model schedule', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<html/g)).toHaveLength(1);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).toContain(`Quorum backtest ${R.from} to ${R.to}`);
    expect(html).toContain('Critic: <b>rules</b>');
    expect(html).toMatch(/<table id="metrics">/);
    expect(html.match(/<tr data-strategy="/g)).toHaveLength(4);
    expect(html).toContain('<td>gbt-1</td>');
    expect(html).toContain('5 bps per side');
    // No external assets and no script of our own.
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('writes each metric as value [lo, hi] from the computed metrics', () => {
    const committee = M.byStrategy.committee;
    expect(committee?.vetoPrecision.value).toBe(0.5);
    const sharpe = committee?.sharpe;
    expect(sharpe?.lo).not.toBeNull();
    const text = formatMetric(sharpe ?? { value: null, lo: null, hi: null }, (x) => x.toFixed(2));
    expect(text).toMatch(/^-?\d+\.\d\d \[-?\d+\.\d\d, -?\d+\.\d\d\]$/);
    expect(html).toContain(`<td class="sharpe">${text}</td>`);
    expect(formatMetric({ value: null, lo: null, hi: null }, String)).toBe('n/a');
    // The proposer has no vetoes: its veto precision is n/a.
    expect(html).toMatch(/<tr data-strategy="proposer">[\s\S]*?<td class="vetoPrecision">n\/a<\/td>/);
  });

  it('has an equity and a drawdown chart, each with one path per strategy, a legend and year ticks', () => {
    const charts = svgs(html);
    expect(charts).toHaveLength(2);
    for (const svg of charts) {
      expect(svg.match(/<path class="series"/g)).toHaveLength(4);
      expect(svg.match(/class="legend-item"/g)).toHaveLength(4);
      // 1998-06-01 + 700 weekdays runs into 2001: ticks at 1999, 2000 and 2001.
      expect(svg.match(/class="year-tick"/g)).toHaveLength(3);
      expect(svg).toContain('>1999</text>');
    }
    expect(charts[0]).toContain('id="equity-curves"');
    expect(charts[1]).toContain('id="drawdowns"');
    // Equity starts at 1 for every strategy: all paths begin at the same point.
    const starts = [...(charts[0] ?? '').matchAll(/<path class="series"[^>]* d="M([\d.]+,[\d.]+)/g)].map((m) => m[1]);
    expect(new Set(starts).size).toBe(1);
  });

  it('escapes every text, including a hostile strategy label and note', () => {
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co');
    expect(html).toContain('The S&amp;P 500 series is &lt;b&gt;the index&lt;/b&gt;, not a fund.');
    expect(equityCurvesSvg(R)).not.toContain('<script>');
    expect(drawdownsSvg(R)).not.toContain('<script>');
  });

  it('draws a flat or one-day strategy without NaN', () => {
    const flat = result([run('proposer', book(['2000-01-03'], [100_000])), run('buy_and_hold', book(weekdays('2000-01-03', 3), [1, 1, 1]))]);
    const page = renderHtmlReport(flat, computeMetrics(flat, { seed: 1, resamples: 20 }));
    expect(page).not.toContain('NaN');
    expect(page).not.toContain('Infinity');
    expect(svgs(page)).toHaveLength(2);
  });

  it('picks round axis ticks', () => {
    expect(niceTicks(0.8, 1.6)).toEqual([0.8, 1, 1.2, 1.4, 1.6]);
    expect(niceTicks(-0.37, 0)).toEqual([-0.3, -0.2, -0.1, 0]);
    expect(niceTicks(1, 1)).toEqual([1]);
  });
});

describe('backtest Markdown summary', () => {
  it('has the metrics table with one row per strategy and the interval method', () => {
    const md = renderMarkdownSummary(R, M);
    expect(md).toContain(`# Quorum backtest ${R.from} to ${R.to}`);
    expect(md).toContain(
      '| strategy | CAGR | Sharpe | Sortino | max drawdown | hit rate | turnover / yr | exposure | veto precision | trades | vetoes | days |',
    );
    const rows = md.split('\n').filter((l) => /^\| (proposer|buy_and_hold|sp500|<script)/.test(l));
    expect(rows).toHaveLength(4);
    expect(md).toContain('95% percentile intervals from 200 bootstrap resamples');
    expect(md).toContain(`stationary blocks of mean ${M.blockLength} days`);
  });
});

describe('backtest report in a browser', () => {
  it.skipIf(!hasBrowser)('opens in headless Chromium with both charts drawn at full size and the metrics table visible', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quorum-backtest-report-'));
    const file = path.join(dir, 'backtest.html');
    writeFileSync(file, renderHtmlReport(R, M));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(`file://${file}`);
      expect(await page.locator('#metrics tr[data-strategy]').count()).toBe(4);
      for (const id of ['#equity-curves', '#drawdowns']) {
        const chart = page.locator(id);
        const box = await chart.boundingBox();
        expect(box?.width).toBeGreaterThan(600);
        expect(box?.height).toBeGreaterThan(250);
        expect(await chart.locator('path.series').count()).toBe(4);
      }
      // The hostile label is shown as text and never runs.
      expect(await page.locator('#metrics tr[data-strategy="committee"] td').first().innerText()).toContain('<script>');
      expect(dialogs).toEqual([]);
      const shot = path.join(dir, 'backtest.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(20_000);
    } finally {
      await browser.close();
    }
  });
});
