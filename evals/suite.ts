/**
 * One gated eval, end to end: run the scenarios, compare with the committed baseline of the
 * backend and model, optionally rewrite the baseline, and write the reports. The CLI
 * (`quorum eval`) and `npm run evals` both call this.
 */
import path from 'node:path';
import {
  type Baseline,
  DEFAULT_BASELINES_DIR,
  DEFAULT_TOLERANCES,
  baselineFileName,
  gate,
  readBaseline,
  writeBaseline,
  type GateResult,
  type Tolerances,
} from './baseline.ts';
import { renderMarkdown, writeReports } from './report.ts';
import { runEvals, type EvalOptions, type EvalResult } from './runner.ts';

export interface SuiteOptions extends EvalOptions {
  /** Directory of the committed baselines (default evals/baselines). */
  baselinesDir?: string;
  /** Rewrite the baseline with this run's metrics (keeping its tolerances and notes). */
  updateBaseline?: boolean;
  /** Tolerances of a new baseline (default DEFAULT_TOLERANCES). */
  tolerances?: Tolerances;
  /** Notes of a new baseline. */
  notes?: string;
  /** Where reports go (`<reportsDataDir>/reports/evals/`); null: no report files. Default config.dataDir. */
  reportsDataDir?: string | null;
}

export interface SuiteResult {
  result: EvalResult;
  baselineFile: string;
  /** null when there was no baseline to compare with (and none was written). */
  gate: GateResult | null;
  baselineUpdated: boolean;
  reports: { json: string; markdown: string } | null;
  markdown: string;
}

/** Runs, gates, optionally updates the baseline, writes the reports. Never exits the process. */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const result = await runEvals(options);
  const dir = options.baselinesDir ?? DEFAULT_BASELINES_DIR;
  const baselineFile = path.join(dir, baselineFileName(result.backend, result.model));
  const existing = readBaseline(baselineFile);
  const gateResult = existing ? gate(existing, result.metrics.overall) : null;
  let baselineUpdated = false;
  if (options.updateBaseline) {
    const next: Baseline = {
      version: 1,
      backend: result.backend,
      model: result.model,
      updatedAt: result.finishedAt,
      promptVersions: result.promptVersions,
      scenarios: result.scenarios,
      seeds: result.seeds,
      metrics: result.metrics,
      tolerances: existing?.tolerances ?? options.tolerances ?? { ...DEFAULT_TOLERANCES },
      notes: existing?.notes ?? options.notes ?? '',
    };
    writeBaseline(baselineFile, next);
    baselineUpdated = true;
  }
  const markdown = renderMarkdown(result, options.scenarios, gateResult, baselineFile);
  const dataDir = options.reportsDataDir === undefined ? options.config.dataDir : options.reportsDataDir;
  const stem = `${result.finishedAt.replace(/[:.]/g, '-')}-${path.basename(baselineFile, '.json')}`;
  const reports = dataDir === null ? null : writeReports(dataDir, stem, { ...result, baselineFile, gate: gateResult, baselineUpdated }, markdown);
  return { result, baselineFile, gate: gateResult, baselineUpdated, reports, markdown };
}
