/**
 * One gated eval, end to end: run the scenarios, compare with the committed baseline of the
 * backend and model, optionally rewrite the baseline, and write the reports. The CLI
 * (`quorum eval`) and `npm run evals` both call this.
 */
import path from 'node:path';
import { QuorumError } from '../contracts/index.ts';
import {
  type Baseline,
  DEFAULT_BASELINES_DIR,
  DEFAULT_TOLERANCES,
  baselineFileName,
  gateRun,
  readBaseline,
  writeBaseline,
  type GateResult,
  type Tolerances,
} from './baseline.ts';
import { costOf, renderJunit, renderMarkdown, writeReports, type RunCost } from './report.ts';
import { runEvals, type EvalOptions, type EvalResult } from './runner.ts';
import { scenarioRef } from './scenario.ts';
import { constantBaselines, type ConstantScore } from './scorers.ts';

export interface SuiteOptions extends EvalOptions {
  /** Directory of the committed baselines (default evals/baselines). */
  baselinesDir?: string;
  /** Rewrite the baseline with this run's metrics (keeping its tolerances and notes). Refused from a partial set. */
  updateBaseline?: boolean;
  /** Also run every scenario without its news and report (and, with updateBaseline, record) the ablated metrics. */
  newsAblation?: boolean;
  /** Tolerances of a new baseline (default DEFAULT_TOLERANCES). */
  tolerances?: Tolerances;
  /** Notes of a new baseline. */
  notes?: string;
  /** Where reports go (`<reportsDataDir>/reports/evals/`); null: no report files. Default config.dataDir. */
  reportsDataDir?: string | null;
}

export interface SuiteResult {
  result: EvalResult;
  /** The news-ablated run, when one was asked for. */
  ablated: EvalResult | null;
  /** What the run cost (models.yaml pricing; zero for a local model). */
  cost: RunCost;
  /** The constant answers' scores on the same scenarios. */
  constants: ConstantScore[];
  baselineFile: string;
  /** null when there was no baseline to compare with (and none was written). */
  gate: GateResult | null;
  baselineUpdated: boolean;
  reports: { json: string; markdown: string; junit: string } | null;
  markdown: string;
  junit: string;
}

/** Refuses to overwrite `existing` from a run that lacks some of its scenarios (a partial set). */
export function assertFullSet(existing: Baseline, scenarioIds: readonly string[], file: string): void {
  const have = new Set(scenarioIds);
  const missing = existing.scenarioSet.length > 0 ? existing.scenarioSet.filter((r) => !have.has(r.id)).map((r) => r.id) : [];
  const short = existing.scenarioSet.length === 0 && scenarioIds.length < existing.scenarios;
  if (missing.length > 0 || short) {
    const what =
      missing.length > 0
        ? `${missing.length} of its ${existing.scenarioSet.length} scenarios are not in this run (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`
        : `it covers ${existing.scenarios} scenarios, this run ${scenarioIds.length}`;
    throw new QuorumError('INPUT_INVALID', `--update-baseline: refusing to overwrite ${file} from a partial scenario set: ${what}; run over the full set`, {
      field: 'scenarios',
      file,
      missing,
    });
  }
}

/** Runs, gates, optionally updates the baseline, writes the reports. Never exits the process. */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const dir = options.baselinesDir ?? DEFAULT_BASELINES_DIR;
  const result = await runEvals(options);
  const ablated = options.newsAblation ? await runEvals({ ...options, ablateNews: true, onRun: undefined }) : null;
  const constants = constantBaselines(options.scenarios);
  const baselineFile = path.join(dir, baselineFileName(result.backend, result.model));
  const existing = readBaseline(baselineFile);
  const gateResult = existing ? gateRun(existing, result, options.scenarios) : null;
  let baselineUpdated = false;
  if (options.updateBaseline) {
    if (existing)
      assertFullSet(
        existing,
        result.scenarioSet.map((r) => r.id),
        baselineFile,
      );
    const next: Baseline = {
      version: 1,
      backend: result.backend,
      model: result.model,
      updatedAt: result.finishedAt,
      promptVersions: result.promptVersions,
      scenarios: result.scenarios,
      scenarioSet: options.scenarios.map(scenarioRef),
      seeds: result.seeds,
      metrics: result.metrics,
      // Latency rounded to the millisecond: the committed file changes little from run to run.
      runs: result.runs.map((r) => ({ ...r, latencyMs: Math.round(r.latencyMs) })),
      newsAblated: ablated?.metrics.overall ?? existing?.newsAblated ?? null,
      tolerances: existing?.tolerances ?? options.tolerances ?? { ...DEFAULT_TOLERANCES },
      notes: existing?.notes ?? options.notes ?? '',
    };
    writeBaseline(baselineFile, next);
    baselineUpdated = true;
  }
  const recordedAblation = ablated ? null : (existing?.newsAblated ?? null);
  const cost = costOf(result, options.config.models.pricing);
  const markdown = renderMarkdown(result, options.scenarios, gateResult, baselineFile, { constants, ablated, recordedAblation, cost });
  const junit = renderJunit(result, options.scenarios, gateResult);
  const dataDir = options.reportsDataDir === undefined ? options.config.dataDir : options.reportsDataDir;
  const stem = `${result.finishedAt.replace(/[:.]/g, '-')}-${path.basename(baselineFile, '.json')}`;
  const reports =
    dataDir === null
      ? null
      : writeReports(
          dataDir,
          stem,
          { ...result, baselineFile, gate: gateResult, baselineUpdated, constants, ablated: ablated?.metrics ?? null, cost },
          markdown,
          junit,
        );
  return { result, ablated, cost, constants, baselineFile, gate: gateResult, baselineUpdated, reports, markdown, junit };
}
