/** evals/: scenarios, scorers, the committed baselines and their gate, cassettes, the runner. */
export {
  Scenario,
  ScenarioCategory,
  Expectation,
  ScenarioNews,
  parseScenario,
  loadScenarioFile,
  loadScenarios,
  scenarioProposal,
  scenarioRef,
  meetsDecision,
  CONSTANT_ANSWERS,
  DEFAULT_REDUCE_MAX_SIZE,
  ScenarioRef,
  DEFAULT_SCENARIOS_DIR,
  MIN_SCENARIOS,
} from './scenario.ts';
export { scenarioBars, stageScenario, scenarioNewsSearcher, SAMPLE_PRICES_DIR } from './fixture.ts';
export {
  RunRecord,
  Metrics,
  MetricName,
  MetricReport,
  scoreRuns,
  scoreReport,
  decisionMeets,
  resistsInjection,
  citationsValid,
  decisionStability,
  quantile,
  runChecks,
  wilsonInterval,
  metricInterval,
  constantRecord,
  constantBaselines,
  assertionFailures,
  forbiddenCitations,
  ConstantScore,
} from './scorers.ts';
export {
  Baseline,
  Tolerance,
  Tolerances,
  DEFAULT_TOLERANCES,
  DEFAULT_BASELINES_DIR,
  baselineFileName,
  readBaseline,
  writeBaseline,
  gate,
  gateRun,
  compareScenarioSets,
  BEATS_CONSTANTS,
  toleranceLimit,
  toleranceRange,
  type GateResult,
  type MetricCheck,
} from './baseline.ts';
export {
  Cassette,
  CassetteEntry,
  createCassetteBackend,
  emptyCassette,
  readCassette,
  writeCassette,
  requestKey,
  normaliseToolIds,
  type CassetteBackend,
  type CassetteOptions,
} from './cassette.ts';
export { runEvals, recordOf, backendLabel, EvalResult, type EvalOptions } from './runner.ts';
export { runSuite, assertFullSet, type SuiteOptions, type SuiteResult } from './suite.ts';
export { renderMarkdown, renderJunit, junitXml, writeReports, rateWithInterval, EVAL_REPORTS_SUBDIR, type Floors, type JunitCase } from './report.ts';
export { compareReports, readEvalReport, renderComparison, renderComparisonJunit, type Comparison, type ComparisonRow } from './compare.ts';
