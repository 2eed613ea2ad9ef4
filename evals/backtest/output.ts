/**
 * Writing a finished backtest: the HTML report (equity curves, drawdowns, the metrics with their
 * intervals) and a JSON file with the result, the metrics, the model schedule and the timings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BacktestRun } from './engine.ts';
import { renderHtmlReport } from './report.ts';
import type { BacktestMetrics } from './schema.ts';
import { renderScorecardsHtml, type Scorecards } from '../scorecards.ts';

import { renderAblationHtml, renderMemoryHtml, type AblationReport, type MemoryComparison } from './ablation.ts';

/** What a report carries besides the result and metrics. */
export interface BacktestExtras {
  scorecards?: Scorecards | null;
  ablation?: AblationReport | null;
  memory?: MemoryComparison | null;
}

/** The file name of a backtest's reports, without extension: `backtest-<from>-<to>-<critic>`. */
export function backtestFileStem(run: Pick<BacktestRun, 'result'>): string {
  const r = run.result;
  return `backtest-${r.from}-${r.to}-${r.critic}${r.engine === 'sessions' ? '-sessions' : ''}`;
}

export interface WrittenBacktest {
  html: string;
  json: string;
}

/** Writes `<stem>.html` and `<stem>.json` into `outDir`. */
export function writeBacktestReport(run: BacktestRun, metrics: BacktestMetrics, outDir: string, extras: BacktestExtras = {}): WrittenBacktest {
  mkdirSync(outDir, { recursive: true });
  const stem = backtestFileStem(run);
  const html = path.join(outDir, `${stem}.html`);
  const json = path.join(outDir, `${stem}.json`);
  const sections = [
    extras.scorecards ? renderScorecardsHtml(extras.scorecards) : '',
    extras.ablation ? renderAblationHtml(extras.ablation) : '',
    extras.memory ? renderMemoryHtml(extras.memory) : '',
  ].join('');
  const page = renderHtmlReport(run.result, metrics);
  writeFileSync(html, sections && page.includes('</body>') ? page.replace('</body>', `${sections}</body>`) : page + sections);
  const more = {
    ...(extras.scorecards ? { scorecards: extras.scorecards } : {}),
    ...(extras.ablation ? { ablation: extras.ablation } : {}),
    ...(extras.memory ? { memory: extras.memory } : {}),
  };
  writeFileSync(json, `${JSON.stringify({ result: run.result, metrics, models: run.models, timings: run.timings, ...more }, null, 1)}\n`);
  return { html, json };
}
