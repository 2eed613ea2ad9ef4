export {
  runSession,
  startSession,
  type StartedSession,
  sessionIdFor,
  judgeProposal,
  judgeSafely,
  prepareSession,
  finishSession,
  topProposals,
  SessionKind,
  type SessionEnv,
  type SessionOutcome,
  type JudgedProposal,
  type RunSessionOptions,
} from './run.ts';
export { runDemo, importStocknetWindow, DemoUniverse, STOCKNET_TICKERS, DEFAULT_STOCKNET_DATE, type DemoOptions, type DemoResult } from './demo.ts';
export { writeSessionReport, type WrittenReport } from './report.ts';
export { loadReportData, ReportData } from './report-data.ts';
export { riskReason } from './report-render.ts';
export { JobQueue, QUEUE_JUDGE, QUEUE_SESSION, QUEUE_EXITS, JudgeJob, SessionJob } from './queue.ts';
export { runDistributedSession, startJudgeWorker, loadProposal, DEFAULT_SESSION_WAIT_MS, type DistributedOutcome, type JudgeHooks } from './distributed.ts';
export { buildSessionEnv, type BuiltEnv } from './env.ts';
export { recordKnownOutcomes, outcomeReflector, type RecordedOutcomes } from './outcomes.ts';
export { nextSlots, scheduleSlots, slotName, type Slot } from './schedule.ts';
export {
  runOrderStage,
  answerApproval,
  listApprovals,
  ApprovalAnswer,
  ApprovalFilter,
  ApprovalView,
  approvalIdOf,
  orderThreadId,
  type OrderStageResult,
} from '../execution/index.ts';
export * from './read-models.ts';
export { runScheduledRetrain, scheduleRetrain, retrainModelId } from './retrain.ts';
