/**
 * Writing a finished backtest: the HTML report (equity curves, drawdowns, the metrics with their
 * intervals) and a JSON file with the result, the metrics, the model schedule and the timings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BacktestRun } from './engine.ts';
import { renderHtmlReport } from './report.ts';
import type { BacktestMetrics } from './schema.ts';

/** The file name of a backtest's reports, without extension: `backtest-<from>-<to>-<critic>`. */
export function backtestFileStem(run: Pick<BacktestRun, 'result'>): string {
  const r = run.result;
  return `backtest-${r.from}-${r.to}-${r.critic}`;
}

export interface WrittenBacktest {
  html: string;
  json: string;
}

/** Writes `<stem>.html` and `<stem>.json` into `outDir`. */
export function writeBacktestReport(run: BacktestRun, metrics: BacktestMetrics, outDir: string): WrittenBacktest {
  mkdirSync(outDir, { recursive: true });
  const stem = backtestFileStem(run);
  const html = path.join(outDir, `${stem}.html`);
  const json = path.join(outDir, `${stem}.json`);
  writeFileSync(html, renderHtmlReport(run.result, metrics));
  writeFileSync(json, `${JSON.stringify({ result: run.result, metrics, models: run.models, timings: run.timings }, null, 1)}\n`);
  return { html, json };
}
