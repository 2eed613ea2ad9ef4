/**
 * The read side that api/ (and the CLI) use, behind sessions/: each folder's read models with their
 * zod row schemas, plus what api/ needs from execution/ (the kill switch) and notify/ (delivery counts), so api/ imports only
 * sessions/, graph/ and db/ (DESIGN.md's layout table).
 */
export * from './committee-views.ts';
export * from './session-views.ts';
export * from './audit-chain.ts';
export * from './metrics-views.ts';
export * from './approval-views.ts';
export { CritiqueRequest, CritiqueReply, CritiqueField, proposalForCritique, runCritique } from './critique.ts';
export { NotificationCountRow, readNotificationCounts, DeliveryView, listDeliveries } from '../notify/index.ts';
export { PortfolioView, TradingStateView, SubmitOutcomeView, readPortfolio, setTradingState, type TradingStateInfo } from '../execution/index.ts';
export * from './console-views.ts';
export { BreakerStatusView, ModelHaltView, readBreakerStatus, haltModel, resumeModel, type BreakerStatus } from '../execution/index.ts';
export { ModelHealthView, ModelOverrideView, overrideModel, revokeModelOverride, listModelOverrides } from '../ml/index.ts';
export * from './report-files.ts';
export { LiveEvent, publishLive, subscribeLive } from './live.ts';
