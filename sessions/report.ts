import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Db } from '../db/index.ts';
import { loadReportData } from './report-data.ts';
import { equityChartSvg, renderHtml, renderMarkdown } from './report-render.ts';

export interface WrittenReport {
  markdown: string;
  html: string;
  svg: string | null;
}

/** Writes `session-<id>.md`, `session-<id>.html` and, with history, `equity-<id>.svg` into `dir`. */
export async function writeSessionReport(db: Db, sessionId: string, dir: string, now: string): Promise<WrittenReport> {
  const data = await loadReportData(db, sessionId, now);
  mkdirSync(dir, { recursive: true });
  const markdown = path.join(dir, `session-${sessionId}.md`);
  const html = path.join(dir, `session-${sessionId}.html`);
  writeFileSync(markdown, renderMarkdown(data));
  writeFileSync(html, renderHtml(data));
  const chart = equityChartSvg(data.equity);
  let svg: string | null = null;
  if (chart) {
    svg = path.join(dir, `equity-${sessionId}.svg`);
    writeFileSync(svg, chart);
  }
  await db.query('UPDATE sessions SET report_path = $2 WHERE id = $1', [sessionId, html]);
  return { markdown, html, svg };
}
