/**
 * Circuit breakers beside the loss limits: a run of losing trades, or a rolling hit rate under a floor,
 * moves the book to REDUCING (orders may only reduce exposure); a per-model kill switch stops every
 * order from one model's proposals while the rest of the book trades on. Pure: closed trades in, an
 * assessment out; `decideWithBreakers` feeds the effective state to the controller unchanged (the
 * stored trading state is only ever raised, never lowered, so an operator's HALTED stays HALTED).
 */
import type { Settings } from '../config/schema.ts';
import type { PortfolioSnapshot } from '../contracts/portfolio.ts';
import type { RiskDecision, RuleResult } from '../contracts/risk-decision.ts';
import type { TradingState } from '../contracts/common.ts';
import { decide, type DecideInput } from './controller.ts';
import { num } from './format.ts';

export type CircuitBreakerRules = Settings['circuitBreakers'];

/** One closed trade: which model proposed it, when it closed, its realised P&L. */
export interface ClosedTrade {
  modelId: string;
  closedAt: string;
  pnl: number;
}

export interface BreakerAssessment {
  /** REDUCING when a breaker tripped, ACTIVE otherwise. */
  state: 'ACTIVE' | 'REDUCING';
  reason: string;
  /** Losing trades (pnl < 0) at the end of the history, in a row. */
  consecutiveLosses: number;
  /** Winning share (pnl > 0) of the latest hitRateWindow trades; null with fewer trades. */
  hitRate: number | null;
  /** CONSECUTIVE_LOSSES and HIT_RATE_FLOOR with their numbers. */
  rules: RuleResult[];
}

/** Trades in closing order (ties by model id, then P&L): the breaker's reading is independent of input order. */
function ordered(trades: readonly ClosedTrade[]): ClosedTrade[] {
  return [...trades].sort((a, b) => (a.closedAt < b.closedAt ? -1 : a.closedAt > b.closedAt ? 1 : 0) || a.modelId.localeCompare(b.modelId) || a.pnl - b.pnl);
}

/** The book's breakers over its closed trades. */
export function circuitBreakerFor(trades: readonly ClosedTrade[], rules: CircuitBreakerRules): BreakerAssessment {
  const t = ordered(trades);
  let streak = 0;
  for (let i = t.length - 1; i >= 0 && (t[i]?.pnl ?? 0) < 0; i--) streak++;
  const window = t.slice(Math.max(0, t.length - rules.hitRateWindow));
  const hitRate = t.length >= rules.hitRateWindow ? window.filter((x) => x.pnl > 0).length / window.length : null;
  const streakTrip = rules.maxConsecutiveLosses > 0 && streak >= rules.maxConsecutiveLosses;
  const hitTrip = rules.minHitRate > 0 && hitRate !== null && hitRate < rules.minHitRate;
  const results: RuleResult[] = [
    {
      rule: 'CONSECUTIVE_LOSSES',
      passed: !streakTrip,
      detail: `CONSECUTIVE_LOSSES: losses in a row=${streak} limit=${rules.maxConsecutiveLosses || 'off'}`,
    },
    {
      rule: 'HIT_RATE_FLOOR',
      passed: !hitTrip,
      detail: `HIT_RATE_FLOOR: hit rate=${hitRate === null ? `n/a (${t.length} of ${rules.hitRateWindow} trades)` : num(hitRate, 3)} floor=${rules.minHitRate || 'off'}`,
    },
  ];
  const reason = streakTrip
    ? `${streak} losing trades in a row >= ${rules.maxConsecutiveLosses}`
    : hitTrip
      ? `hit rate ${num(hitRate ?? 0, 3)} over the last ${rules.hitRateWindow} trades < ${rules.minHitRate}`
      : 'no breaker tripped';
  return { state: streakTrip || hitTrip ? 'REDUCING' : 'ACTIVE', reason, consecutiveLosses: streak, hitRate, rules: results };
}

/** The trip behind a book's REDUCING: the closed trade after which the breakers have held it there ever since. */
export interface BreakerTrip {
  /** The tripping trade's close (with its model and the rules it tripped, a trip's identity: the same trip while it lasts). */
  trippedAt: string;
  /** The model whose trade tripped it. */
  modelId: string;
  /** The rules tripped by that trade (CONSECUTIVE_LOSSES, HIT_RATE_FLOOR) and why, with the numbers then. */
  rules: string[];
  reason: string;
  consecutiveLosses: number;
  hitRate: number | null;
  /** The models of the losing run (or of the hit-rate window) at the trip, in closing order, each once. */
  models: string[];
  /** The breakers now (their numbers may have moved on since the trip). */
  now: BreakerAssessment;
}

/**
 * The current trip, or null when no breaker holds the book: the trades are replayed in closing
 * order, and the trip is the trade after which every prefix read REDUCING. More trades that keep it
 * tripped leave the trip as it was; a reading back to ACTIVE ends it, and the next one is a new trip.
 */
export function currentTrip(trades: readonly ClosedTrade[], rules: CircuitBreakerRules): BreakerTrip | null {
  const t = ordered(trades);
  let streak = 0;
  let wins = 0;
  let start = -1;
  for (let k = 0; k < t.length; k++) {
    const pnl = t[k]?.pnl ?? 0;
    streak = pnl < 0 ? streak + 1 : 0;
    if (pnl > 0) wins++;
    if (k >= rules.hitRateWindow && (t[k - rules.hitRateWindow]?.pnl ?? 0) > 0) wins--;
    const hitRate = k + 1 >= rules.hitRateWindow ? wins / rules.hitRateWindow : null;
    const tripped =
      (rules.maxConsecutiveLosses > 0 && streak >= rules.maxConsecutiveLosses) || (rules.minHitRate > 0 && hitRate !== null && hitRate < rules.minHitRate);
    if (!tripped) start = -1;
    else if (start < 0) start = k;
  }
  const trip = t[start];
  if (!trip) return null;
  const upTo = t.slice(0, start + 1);
  const at = circuitBreakerFor(upTo, rules);
  const tripped = at.rules.filter((r) => !r.passed).map((r) => r.rule);
  const span = tripped.includes('CONSECUTIVE_LOSSES')
    ? upTo.slice(upTo.length - at.consecutiveLosses)
    : upTo.slice(Math.max(0, upTo.length - rules.hitRateWindow));
  return {
    trippedAt: trip.closedAt,
    modelId: trip.modelId,
    rules: tripped,
    reason: at.reason,
    consecutiveLosses: at.consecutiveLosses,
    hitRate: at.hitRate,
    models: [...new Set(span.map((x) => x.modelId))],
    now: circuitBreakerFor(t, rules),
  };
}

/** The per-model kill switch's rule for a proposal of `modelId` (a user idea names its scoring model as version). */
export function modelKillSwitch(modelId: string, rules: CircuitBreakerRules): RuleResult {
  const killed = rules.killedModels.includes(modelId);
  return { rule: 'MODEL_KILL_SWITCH', passed: !killed, detail: `MODEL_KILL_SWITCH: model=${modelId}${killed ? ' is switched off' : ' enabled'}` };
}

const SEVERITY: Record<TradingState, number> = { ACTIVE: 0, REDUCING: 1, HALTED: 2 };

/** The more severe of two trading states. */
export function severer(a: TradingState, b: TradingState): TradingState {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}

export interface BreakerDecision {
  decision: RiskDecision;
  breaker: BreakerAssessment;
  killSwitch: RuleResult;
  /** The trading state the controller was given: the stored one raised by the breakers. */
  effectiveState: TradingState | null;
}

/**
 * `decide` with the breakers: a tripped breaker raises the stored state to REDUCING, a killed model
 * to HALTED (for this proposal only), and the controller decides as it would in that state.
 */
export function decideWithBreakers(input: DecideInput, trades: readonly ClosedTrade[], rules: CircuitBreakerRules): BreakerDecision {
  const breaker = circuitBreakerFor(trades, rules);
  const killSwitch = modelKillSwitch(input.proposal.modelId, rules);
  const raise: TradingState = killSwitch.passed ? breaker.state : 'HALTED';
  const p = input.portfolio;
  const portfolio: PortfolioSnapshot | null | undefined =
    p && typeof p === 'object' && typeof p.tradingState === 'string' ? { ...p, tradingState: severer(p.tradingState, raise) } : p;
  const decision = decide({ ...input, portfolio });
  // The decision says which breaker raised its state: the tripped rules join its rule results (the id,
  // a hash of the inputs, already covers the raised state). Nothing tripped: the decision is decide's.
  const tripped = [...breaker.rules.filter((r) => !r.passed), ...(killSwitch.passed ? [] : [killSwitch])];
  return {
    decision: tripped.length > 0 ? { ...decision, rules: [...decision.rules, ...tripped] } : decision,
    breaker,
    killSwitch,
    effectiveState: portfolio ? portfolio.tradingState : null,
  };
}
