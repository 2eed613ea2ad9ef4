/** evals/backtest: the day-by-day backtester, its simulated broker, metrics with bootstrap intervals, and the report. */
export * from './schema.ts';
export { computeMetrics, DEFAULT_RESAMPLES, DEFAULT_CONFIDENCE, type MetricsOptions } from './metrics.ts';
export { renderHtmlReport, renderMarkdownSummary, renderNewsComparison, type ComparedBacktest } from './report.ts';
export {
  runBacktest,
  proposerVerdict,
  marketAt,
  FEATURE_WINDOW_BARS,
  EXIT_MONITOR_BARS,
  MIN_TRAIN_SAMPLES,
  type BacktestOptions,
  type BacktestRun,
  type BacktestSettings,
  type DayDecisions,
  type ModelRecord,
} from './engine.ts';
export {
  SimBroker,
  hypotheticalTrade,
  bracketHit,
  closedTrade,
  fillBasis,
  slipped,
  commissionOf,
  BPS,
  type CostModel,
  type Lot,
  type PendingOrder,
  type FillEvent,
  type HypotheticalTrade,
} from './broker.ts';
export {
  PriceView,
  loadBundledPrices,
  resolveRange,
  parseDateFlag,
  groupBars,
  barDate,
  DOW30_FILE,
  SP500_FILE,
  DJIA_FILE,
  type PriceData,
  type IndexSeries,
  type BacktestRange,
} from './data.ts';
export { writeBacktestReport, backtestFileStem, type WrittenBacktest } from './output.ts';
export { loadStocknetPrices, STOCKNET_PRICES_FILE } from './stocknet.ts';
export {
  ABLATABLE_ROLES,
  ablatedConfig,
  ablationReport,
  marginalEffect,
  renderAblationHtml,
  renderAblationMarkdown,
  runAblations,
  AblationReport,
  AblationRow,
  AblationEffect,
  MemoryComparison,
  memoryComparison,
  renderMemoryMarkdown,
  renderMemoryHtml,
  type AblationMiss,
} from './ablation.ts';
export { backtestCritiques, backtestScorecards } from './scorecards.ts';
export { createBacktestMemory, type BacktestMemory } from './memory.ts';
