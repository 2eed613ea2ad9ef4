/**
 * The training matrix as CSV (`quorum features export`): exactly the samples `quorum train` builds —
 * the same features, labels, horizon and point-in-time cut — for training in Python (XGBoost,
 * LightGBM) and exporting to ONNX. Numbers are written as JavaScript prints them (shortest
 * round-trip), so a reader gets the very float64 values train used.
 */
import { FEATURE_SET } from './features.ts';
import type { Sample } from './train.ts';

/** Columns before the features, and after them. */
export const TRAINING_CSV_COLUMNS_BEFORE = ['date', 'ticker'] as const;
export const TRAINING_CSV_COLUMNS_AFTER = ['forward_return', 'label'] as const;

export interface TrainingCsvOptions {
  features: readonly string[];
  horizonDays: number;
  labelThreshold: number;
  /** The point-in-time cut the samples were built with (ISO instant), for the header. */
  asOf: string | null;
}

/**
 * One `# key=value` comment line (feature set and version, label definition, as-of, rows), then
 * the header `date,ticker,<features…>,forward_return,label`, then one row per sample in the order
 * given (train's: date, then ticker). Read it with pandas: `pd.read_csv(path, comment="#")`.
 */
export function trainingMatrixCsv(samples: readonly Sample[], options: TrainingCsvOptions): string {
  const meta = [
    `feature_set=${FEATURE_SET.name}@${FEATURE_SET.version}`,
    `label=forward_return>${options.labelThreshold}`,
    `horizon_days=${options.horizonDays}`,
    `as_of=${options.asOf ?? 'all'}`,
    `rows=${samples.length}`,
  ];
  const lines = [`# ${meta.join(' ')}`, [...TRAINING_CSV_COLUMNS_BEFORE, ...options.features, ...TRAINING_CSV_COLUMNS_AFTER].join(',')];
  for (const s of samples) lines.push([s.date, s.ticker, ...s.x.map(String), String(s.forwardReturn), String(s.y)].join(','));
  return `${lines.join('\n')}\n`;
}
