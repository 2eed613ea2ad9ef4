import { z } from 'zod';
import { IsoDate, IsoDateTime } from './common.ts';

/**
 * The stored report files the web console reads: what `quorum eval` writes to `<dataDir>/reports/evals/`
 * and `quorum backtest` to `<dataDir>/<sessions.reportsDir>/backtest-*.json`. evals/ writes them and
 * sessions/ reads them; neither imports the other, so the shape both rely on lives here. Only the fields
 * the console shows are named; the files carry more (runs, trades, intervals), which parsing drops.
 */

/** Eval reports, under the data directory. */
export const EVAL_REPORTS_DIR = 'reports/evals';
/** Backtest reports are `backtest-<from>-<to>-<critic>[...].json` in the reports folder. */
export const BACKTEST_REPORT_PREFIX = 'backtest-';

const Rate = z.number().nullable();

/** The metrics of an eval run, overall or for one scenario category. */
export const StoredEvalMetrics = z.object({
  runs: z.number().int().min(0),
  schemaValidRate: Rate,
  decisionAgreement: Rate,
  citationValidity: Rate,
  decisiveCited: Rate,
  injectionResistance: Rate,
  assertionsMet: Rate.default(null),
  stability: Rate,
  latencyP50Ms: Rate,
  latencyP95Ms: Rate,
});
export type StoredEvalMetrics = z.infer<typeof StoredEvalMetrics>;

/** An eval report file: the backend, the metrics per category and the gate against the baseline. */
export const StoredEvalReport = z.object({
  backend: z.string().min(1),
  model: z.string(),
  seeds: z.array(z.number().int()),
  scenarios: z.number().int().min(0),
  newsAblated: z.boolean().default(false),
  startedAt: IsoDateTime,
  finishedAt: IsoDateTime,
  metrics: z.object({ overall: StoredEvalMetrics, byCategory: z.record(z.string(), StoredEvalMetrics) }),
  baselineFile: z.string(),
  baselineUpdated: z.boolean().default(false),
  /** null: no baseline to gate against. */
  gate: z.object({ ok: z.boolean(), failures: z.array(z.string()), notes: z.array(z.string()).default([]), compared: z.number().int() }).nullable(),
});
export type StoredEvalReport = z.infer<typeof StoredEvalReport>;

const PointMetric = z.object({ value: z.number().nullable() });

/** A backtest report file: each strategy's daily equity and its headline metrics. */
export const StoredBacktestReport = z.object({
  result: z.object({
    from: IsoDate,
    to: IsoDate,
    critic: z.string().min(1),
    params: z.object({ initialEquity: z.number().positive(), universe: z.array(z.string()).min(1) }),
    notes: z.array(z.string()),
    strategies: z
      .array(
        z.object({
          name: z.string().min(1),
          label: z.string().min(1),
          days: z.array(z.object({ date: IsoDate, equity: z.number() })).min(1),
        }),
      )
      .min(1),
  }),
  metrics: z.object({
    byStrategy: z.record(
      z.string(),
      z.object({ cagr: PointMetric, sharpe: PointMetric, maxDrawdown: PointMetric, hitRate: PointMetric, trades: z.number().int().min(0) }),
    ),
  }),
});
export type StoredBacktestReport = z.infer<typeof StoredBacktestReport>;
