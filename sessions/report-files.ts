import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BACKTEST_REPORT_PREFIX, EVAL_REPORTS_DIR, StoredBacktestReport, StoredEvalMetrics, StoredEvalReport, parseJson } from '../contracts/index.ts';

/**
 * Read models of the report files `quorum eval` and `quorum backtest` write into the data directory
 * (ADR 0030): the latest eval report per backend, and the backtest reports with each strategy's equity
 * curve. Each file is parsed through its contracts/ schema; one that does not parse is listed with
 * the reason instead of failing the whole list.
 */

/** A report file that is not a report: its name and what is wrong with it. */
export const UnreadableReport = z.object({ file: z.string(), error: z.string() });
export type UnreadableReport = z.infer<typeof UnreadableReport>;

export const EvalReportView = z.object({
  file: z.string(),
  backend: z.string(),
  model: z.string(),
  seeds: z.array(z.number().int()),
  scenarios: z.number().int(),
  newsAblated: z.boolean(),
  finishedAt: z.string(),
  baselineFile: z.string(),
  baselineUpdated: z.boolean(),
  gate: StoredEvalReport.shape.gate,
  overall: StoredEvalMetrics,
  byCategory: z.array(StoredEvalMetrics.extend({ category: z.string() })),
});
export type EvalReportView = z.infer<typeof EvalReportView>;
export const EvalReportList = z.object({ reports: z.array(EvalReportView), unreadable: z.array(UnreadableReport) });
export type EvalReportList = z.infer<typeof EvalReportList>;

export const BacktestStrategyView = z.object({
  name: z.string(),
  label: z.string(),
  cagr: z.number().nullable(),
  sharpe: z.number().nullable(),
  maxDrawdown: z.number().nullable(),
  hitRate: z.number().nullable(),
  trades: z.number().int(),
  dates: z.array(z.string()),
  equity: z.array(z.number()),
});
export const BacktestReportView = z.object({
  file: z.string(),
  from: z.string(),
  to: z.string(),
  critic: z.string(),
  initialEquity: z.number(),
  universe: z.array(z.string()),
  notes: z.array(z.string()),
  writtenAt: z.string(),
  strategies: z.array(BacktestStrategyView),
});
export type BacktestReportView = z.infer<typeof BacktestReportView>;
export const BacktestReportList = z.object({ reports: z.array(BacktestReportView), unreadable: z.array(UnreadableReport) });
export type BacktestReportList = z.infer<typeof BacktestReportList>;

interface JsonFile {
  file: string;
  mtime: Date;
  value: unknown;
}

/** The `.json` files of `dir` whose names start with `prefix` (none when the folder does not exist), newest first. */
function jsonFiles(dir: string, prefix: string, unreadable: UnreadableReport[]): JsonFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(prefix) && n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: JsonFile[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const parsed = parseJson(readFileSync(file, 'utf8'));
    if (!parsed.ok) unreadable.push({ file, error: parsed.error });
    else out.push({ file, mtime: statSync(file).mtime, value: parsed.value });
  }
  return out.sort((a, b) => b.mtime.getTime() - a.mtime.getTime());
}

const issuesOf = (e: z.ZodError): string =>
  e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');

/** The newest eval report of each backend in `<dataDir>/reports/evals/`, by finish time. */
export function readEvalReports(dataDir: string): EvalReportList {
  const unreadable: UnreadableReport[] = [];
  const latest = new Map<string, EvalReportView>();
  for (const f of jsonFiles(path.join(dataDir, ...EVAL_REPORTS_DIR.split('/')), '', unreadable)) {
    const r = StoredEvalReport.safeParse(f.value);
    if (!r.success) {
      unreadable.push({ file: f.file, error: issuesOf(r.error) });
      continue;
    }
    const d = r.data;
    const seen = latest.get(d.backend);
    if (seen && seen.finishedAt >= d.finishedAt) continue;
    latest.set(d.backend, {
      file: f.file,
      backend: d.backend,
      model: d.model,
      seeds: d.seeds,
      scenarios: d.scenarios,
      newsAblated: d.newsAblated,
      finishedAt: d.finishedAt,
      baselineFile: d.baselineFile,
      baselineUpdated: d.baselineUpdated,
      gate: d.gate,
      overall: d.metrics.overall,
      byCategory: Object.entries(d.metrics.byCategory)
        .map(([category, m]) => ({ category, ...m }))
        .sort((a, b) => a.category.localeCompare(b.category)),
    });
  }
  return { reports: [...latest.values()].sort((a, b) => a.backend.localeCompare(b.backend)), unreadable };
}

/** The backtest reports in `reportsDir`, newest file first, at most `limit`. */
export function readBacktestReports(reportsDir: string, limit: number): BacktestReportList {
  const unreadable: UnreadableReport[] = [];
  const reports: BacktestReportView[] = [];
  for (const f of jsonFiles(reportsDir, BACKTEST_REPORT_PREFIX, unreadable)) {
    if (reports.length >= limit) break;
    const r = StoredBacktestReport.safeParse(f.value);
    if (!r.success) {
      unreadable.push({ file: f.file, error: issuesOf(r.error) });
      continue;
    }
    const { result, metrics } = r.data;
    reports.push({
      file: f.file,
      from: result.from,
      to: result.to,
      critic: result.critic,
      initialEquity: result.params.initialEquity,
      universe: result.params.universe,
      notes: result.notes,
      writtenAt: f.mtime.toISOString(),
      strategies: result.strategies.map((s) => {
        const m = metrics.byStrategy[s.name];
        return {
          name: s.name,
          label: s.label,
          cagr: m?.cagr.value ?? null,
          sharpe: m?.sharpe.value ?? null,
          maxDrawdown: m?.maxDrawdown.value ?? null,
          hitRate: m?.hitRate.value ?? null,
          trades: m?.trades ?? 0,
          dates: s.days.map((d) => d.date),
          equity: s.days.map((d) => d.equity),
        };
      }),
    });
  }
  return { reports, unreadable };
}
