export type { Broker } from './broker.ts';
export { AlpacaBroker, createBroker, ALPACA_PAPER_URL, ALPACA_LIVE_URL, type AlpacaBrokerOptions } from './alpaca-broker.ts';
export * from './schema.ts';
export {
  clientOrderIdFor,
  intentFromDecision,
  recordRiskDecision,
  storeIntent,
  submitIntent,
  resolveIntent,
  recordBrokerOrder,
  syncOpenOrders,
  getIntent,
  unresolvedIntents,
  DEFAULT_INTENT_MAX_AGE_MS,
  type IntentStatus,
  type SubmitOutcome,
  type SubmitHooks,
  type StoredIntent,
} from './orders.ts';
export { derivePositions, loadFills, loadPositions, recordFills, rebuildPositions } from './positions.ts';
export { getTradingState, setTradingState, assertCanSubmit, type TradingStateInfo } from './trading-state.ts';
export * from './paper-exchange/index.ts';
export { reconcile, intentCounts, type ReconcileReport } from './reconcile.ts';
export { buildPortfolioSnapshot } from './portfolio.ts';
export {
  runExitMonitor,
  exitSignal,
  macdCrossedAgainst,
  EXIT_MACD,
  type ExitAction,
  type ExitKind,
  type ExitMonitorOptions,
  type ExitRules,
  type ExitSignal,
  type HeldPosition,
} from './exit-monitor.ts';
export * from './read-models.ts';
export {
  runOrderStage,
  answerApproval,
  orderThreadId,
  riskCheck,
  allowsOrder,
  type OrderStageEnv,
  type OrderStageInput,
  type OrderStageResult,
} from './order-stage.ts';
export { ApprovalAnswer, ApprovalFilter, ApprovalStatus, ApprovalView, approvalIdOf, listApprovals, pendingApproval } from './approvals.ts';
export {
  BPS,
  barRange,
  bracketExit,
  commissionOf,
  fillOn,
  fillPrice,
  isCloseOnly,
  marketFillBasis,
  paysSlippage,
  slipped,
  triggerPrice as fillTriggerPrice,
  type FillBar,
  type FillBracket,
  type FillCosts,
  type FillOrder,
  type FillSide,
} from './fill-model.ts';
export {
  closedTradesFrom,
  loadAttributedFills,
  loadClosedTrades,
  recordBreakerTrip,
  recordCurrentTrip,
  tripKey,
  listModelHalts,
  haltModel,
  resumeModel,
  breakerRules,
  readBreakerStatus,
  ModelHaltView,
  BreakerStatusView,
  UNATTRIBUTED_MODEL,
  type AttributedFill,
  type BreakerStatus,
} from './breakers.ts';
export { roundTripsFrom, loadProposalFills, type ProposalFill, type RoundTrip, type RoundTripExit } from './round-trips.ts';
