/**
 * risk/: the pure, deterministic risk controller. No I/O, no clock reads, no randomness.
 */
export { decide, decisionId, checkExit, checkCancel, ORDER_DECISIONS, type DecideInput, type ExitInput, type CancelInput } from './controller.ts';
export { tradingStateFor, dailyLossPct, drawdownPct } from './trading-state.ts';
export { TradingStateAssessment, CancelCheck, ExitDecision } from './schema.ts';
export { UNCLASSIFIED_SECTOR, roundToTick } from './rules.ts';
export {
  circuitBreakerFor,
  currentTrip,
  modelKillSwitch,
  decideWithBreakers,
  severer,
  type ClosedTrade,
  type BreakerAssessment,
  type BreakerDecision,
  type BreakerTrip,
  type CircuitBreakerRules,
} from './circuit-breaker.ts';
