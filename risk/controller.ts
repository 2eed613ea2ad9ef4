/**
 * The risk controller: the last word before any order. Pure: no I/O, no clock reads, no randomness;
 * the same inputs always give the same decision (and the same decision id).
 */
import type { RiskRules } from '../config/schema.ts';
import type { MarketSnapshot } from '../contracts/market.ts';
import type { PortfolioSnapshot } from '../contracts/portfolio.ts';
import type { Proposal } from '../contracts/proposal.ts';
import type { RiskAction, RiskDecision, RuleResult } from '../contracts/risk-decision.ts';
import type { Verdict } from '../contracts/verdict.ts';
import { clipDetails, num } from './format.ts';
import { contentHash } from './hash.ts';
import {
  buyingPowerRule,
  exposureRules,
  marketHoursRule,
  maxPositionsRule,
  minNotionalRule,
  minPriceRule,
  noCrossZeroRule,
  oneOpenOrderRule,
  pdtRule,
  positionQtyOf,
  reducesPosition,
  riskPerTradeRule,
  throttleRule,
  tradingStateRule,
  type Capped,
  type OrderContext,
} from './rules.ts';
import type { CancelCheck, ExitDecision, TradingStateAssessment } from './schema.ts';
import { tradingStateFor } from './trading-state.ts';
import { nowMs } from './time.ts';

/** Verdict decisions that may lead to an order. */
export const ORDER_DECISIONS: readonly string[] = ['APPROVE', 'REDUCE'];

/** Everything one decision depends on. */
export interface DecideInput {
  verdict: Verdict;
  proposal: Proposal;
  /** The account; null or undefined (missing) means HALTED. */
  portfolio: PortfolioSnapshot | null | undefined;
  market: MarketSnapshot;
  rules: RiskRules;
  /** The decision time, ISO-8601: the controller never reads the clock. */
  now: string;
  /**
   * The model's size before the committee's multiplier. Default: the risk-per-trade size for an
   * order that opens exposure, the whole position for an order that reduces one.
   */
  baseQty?: number;
}

function contextFor(
  ticker: string,
  side: 'buy' | 'sell',
  portfolio: PortfolioSnapshot | null | undefined,
  market: MarketSnapshot,
  rules: RiskRules,
  now: string,
): OrderContext {
  const at = nowMs(now);
  const state: TradingStateAssessment = tradingStateFor(portfolio, rules, now);
  const account = state.accountUsable && portfolio ? portfolio : null;
  const positionQty = positionQtyOf(account, ticker);
  return { ticker, side, account, positionQty, reducing: reducesPosition(side, positionQty), state, market, rules, at };
}

function actionFor(results: readonly RuleResult[], requested: number, capped: number): RiskAction {
  if (capped <= 0 || results.some((r) => !r.passed)) return 'DENY';
  return capped < requested ? 'RESIZE' : 'ALLOW';
}

/** The committee multiplier, clamped to [0, 1] (NaN -> 0), and whether it was valid as given. */
function clampMultiplier(m: number): { value: number; valid: boolean } {
  const valid = typeof m === 'number' && Number.isFinite(m) && m >= 0 && m <= 1;
  if (valid) return { value: m, valid };
  return { value: Number.isFinite(m) ? Math.min(1, Math.max(0, m)) : 0, valid };
}

/**
 * The decision's id: a hash of every input the decision depends on. Of the verdict and the proposal
 * only the fields the rules read (and their ids) are hashed: their texts cannot change the decision,
 * and hashing them cost more than the rules themselves.
 */
export function decisionId(input: DecideInput): string {
  const { verdict: v, proposal: p } = input;
  return `rd_${contentHash({
    v: 1,
    verdict: { id: v.id, proposalId: v.proposalId, decision: v.decision, sizeMultiplier: v.sizeMultiplier, confidence: v.confidence },
    proposal: { id: p.id, ticker: p.ticker, side: p.side },
    portfolio: input.portfolio ?? null,
    market: input.market,
    rules: input.rules,
    now: input.now,
    baseQty: input.baseQty,
  })}`;
}

/**
 * Decides whether the proposal, as the committee sized it, may become an order, and at what size.
 *
 * Size: qty = floor(equity * riskPerTradePct% / (atrStopMultiple * ATR)) (or `baseQty`), times the
 * verdict's sizeMultiplier (never above 1), then capped by max position %, gross exposure, sector cap
 * and buying power. ALLOW when the final quantity is the requested one, RESIZE when smaller but
 * positive, DENY when zero or any rule fails. Every rule is evaluated and recorded with its numbers.
 *
 * HALTED denies every order, including ones that would reduce a position (the bracket legs already at
 * the broker keep protecting it; flattening in a halt is an operator action). REDUCING allows only
 * orders opposite to an existing position, at most its size.
 */
export function decide(input: DecideInput): RiskDecision {
  const { verdict, proposal, portfolio, market, rules, now, baseQty } = input;
  const ctx = contextFor(proposal.ticker, proposal.side, portfolio, market, rules, now);
  const results: RuleResult[] = [...ctx.state.rules, tradingStateRule(ctx)];

  const matches = proposal.ticker === market.ticker && verdict.proposalId === proposal.id;
  results.push({
    rule: 'INPUT_MATCH',
    passed: matches,
    detail: `INPUT_MATCH: proposal=${proposal.id} verdict.proposalId=${verdict.proposalId} ticker=${proposal.ticker} market=${market.ticker}`,
  });
  const decisionOk = ORDER_DECISIONS.includes(verdict.decision);
  results.push({ rule: 'DECISION_ALLOWED', passed: decisionOk, detail: `DECISION_ALLOWED: decision=${verdict.decision} allowed=${ORDER_DECISIONS.join(',')}` });
  const confidenceOk = Number.isFinite(verdict.confidence) && verdict.confidence >= rules.minVerdictConfidence;
  results.push({ rule: 'MIN_CONFIDENCE', passed: confidenceOk, detail: `MIN_CONFIDENCE: confidence=${num(verdict.confidence, 3)} min=${num(rules.minVerdictConfidence, 3)}` });

  const sizing = riskPerTradeRule(ctx);
  const defaultBase = ctx.reducing ? Math.abs(ctx.positionQty) : Number.isFinite(sizing.cap) ? sizing.cap : 0;
  const base = baseQty === undefined ? defaultBase : Number.isFinite(baseQty) && baseQty >= 0 ? Math.floor(baseQty) : 0;
  const multiplier = clampMultiplier(verdict.sizeMultiplier);
  const requested = Math.floor(base * multiplier.value);
  results.push({
    rule: 'SIZE_MULTIPLIER',
    passed: multiplier.valid && requested > 0 && (baseQty === undefined || (Number.isFinite(baseQty) && baseQty >= 0)),
    detail: `SIZE_MULTIPLIER: multiplier=${String(verdict.sizeMultiplier)} allowed=[0,1] base=${baseQty === undefined ? base : String(baseQty)} requested=${requested}`,
  });

  results.push(marketHoursRule(ctx), minPriceRule(ctx));
  const cross = noCrossZeroRule(ctx);
  results.push(cross.result, oneOpenOrderRule(ctx), throttleRule(ctx), pdtRule(ctx), maxPositionsRule(ctx), sizing.result);
  const [position, gross, sector] = exposureRules(ctx);
  const power = buyingPowerRule(ctx);
  results.push(position.result, gross.result, sector.result, power.result);

  const capped = Math.max(0, Math.min(requested, cross.cap, sizing.cap, position.cap, gross.cap, sector.cap, power.cap));
  results.push(minNotionalRule(ctx, capped));

  const action = actionFor(results, requested, capped);
  const allowed = action !== 'DENY';
  const price = Number.isFinite(market.lastPrice) && market.lastPrice > 0 ? market.lastPrice : null;
  return {
    id: decisionId(input),
    proposalId: proposal.id,
    verdictId: verdict.id,
    ticker: proposal.ticker,
    side: proposal.side,
    action,
    requestedQty: requested,
    finalQty: allowed ? capped : 0,
    entryPrice: price,
    stop: allowed ? sizing.stop : null,
    target: allowed ? sizing.target : null,
    tradingState: ctx.state.state,
    rules: clipDetails(results),
    decidedAt: now,
  };
}

/** An exit request: reduce (by default close) the position in `ticker`. */
export interface ExitInput {
  ticker: string;
  /** Shares to sell (long) or buy back (short); default the whole position. */
  qty?: number;
  /** Why the exit is wanted, e.g. `time-exit` or `macd-reversal`; recorded in the decision. */
  reason: string;
  portfolio: PortfolioSnapshot | null | undefined;
  market: MarketSnapshot;
  rules: RiskRules;
  now: string;
}

/**
 * Checks an order that only reduces an existing position (the exit monitor's orders). It never crosses
 * zero (the quantity is capped at the position), it is allowed in REDUCING and denied in HALTED, and it
 * is subject to market hours, one open order per ticker (cancel a bracket's legs first), the throttle
 * and the PDT guard. Size, exposure and price rules do not apply to an exit.
 */
export function checkExit(input: ExitInput): ExitDecision {
  const { ticker, qty, reason, portfolio, market, rules, now } = input;
  const probe = contextFor(ticker, 'sell', portfolio, market, rules, now);
  // The side that reduces whatever is held; with no position there is nothing an exit may do.
  const side = probe.positionQty < 0 ? 'buy' : 'sell';
  const ctx = probe.positionQty < 0 ? contextFor(ticker, side, portfolio, market, rules, now) : probe;
  const results: RuleResult[] = [...ctx.state.rules, tradingStateRule(ctx)];
  results.push({ rule: 'INPUT_MATCH', passed: market.ticker === ticker, detail: `INPUT_MATCH: ticker=${ticker} market=${market.ticker}` });

  const held = Math.abs(ctx.positionQty);
  const requested = qty === undefined ? held : Number.isFinite(qty) && qty >= 0 ? Math.floor(qty) : 0;
  results.push({
    rule: 'EXIT_QTY',
    passed: requested > 0 && (qty === undefined || (Number.isFinite(qty) && qty >= 0)),
    detail: `EXIT_QTY: requested=${qty === undefined ? `position(${held})` : String(qty)} qty=${requested}`,
  });
  let cross: Capped;
  if (!ctx.account) {
    cross = noCrossZeroRule(ctx);
  } else if (!ctx.reducing) {
    cross = { result: { rule: 'NO_CROSS_ZERO', passed: false, detail: `NO_CROSS_ZERO: position=0 in ${ticker}: nothing to reduce` }, cap: 0 };
  } else {
    cross = noCrossZeroRule(ctx);
  }
  results.push(cross.result, marketHoursRule(ctx), oneOpenOrderRule(ctx), throttleRule(ctx), pdtRule(ctx));

  const capped = Math.max(0, Math.min(requested, cross.cap));
  const action = actionFor(results, requested, capped);
  return {
    id: `rx_${contentHash({ v: 1, ticker, qty, reason, portfolio: portfolio ?? null, market, rules, now })}`,
    ticker,
    side: ctx.reducing ? side : null,
    action,
    requestedQty: requested,
    finalQty: action === 'DENY' ? 0 : capped,
    tradingState: ctx.state.state,
    reason: reason || 'unspecified',
    rules: clipDetails(results),
    decidedAt: now,
  };
}

/** A cancel of an open order. */
export interface CancelInput {
  portfolio: PortfolioSnapshot | null | undefined;
  rules: RiskRules;
  now: string;
  /** The order to cancel, for the audit line. */
  clientOrderId: string;
}

/**
 * Cancels are always allowed, in every state (HALTED included, and with missing account data): taking
 * an order off the book can only reduce risk. The state is recorded for the audit.
 */
export function checkCancel(input: CancelInput): CancelCheck {
  const { state } = tradingStateFor(input.portfolio, input.rules, input.now);
  return {
    allowed: true,
    tradingState: state,
    rule: { rule: 'CANCEL_ALLOWED', passed: true, detail: `CANCEL_ALLOWED: cancel ${input.clientOrderId} allowed in state=${state}` },
  };
}
