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
import { contentHash, TokenEncoder } from './hash.ts';
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
  holdingsOf,
  parseTimes,
  reducesPosition,
  riskPerTradeRule,
  throttleRule,
  tradingStateRule,
  type Capped,
  type OrderContext,
} from './rules.ts';
import type { CancelCheck, ExitDecision, TradingStateAssessment } from './schema.ts';
import { tradingStateAt, tradingStateFor } from './trading-state.ts';
import { easternDay, isoMs, nowMs } from './time.ts';

/** Verdict decisions that may lead to an order. */
export const ORDER_DECISIONS: readonly string[] = ['APPROVE', 'REDUCE'];
const ORDER_DECISIONS_TEXT = ORDER_DECISIONS.join(',');

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
  const state: TradingStateAssessment = tradingStateAt(portfolio, rules, at);
  const account = state.accountUsable && portfolio ? portfolio : null;
  const held = holdingsOf(account, ticker, market);
  const positionQty = held.get(ticker)?.qty ?? 0;
  const recentMs = account ? parseTimes(account.recentOrderTimes) : NO_TIMES;
  return { ticker, side, account, positionQty, reducing: reducesPosition(side, positionQty), state, market, rules, at, held, recentMs };
}

const NO_TIMES: readonly number[] = Object.freeze([]);

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
 * Every rules setting, in the fixed order the decision id hashes them. The `Record` type makes a new
 * setting in RiskRulesSchema a compile error here until it is added (every setting can change a decision).
 */
const RULE_KEYS_SET: Record<keyof RiskRules, true> = {
  minVerdictConfidence: true,
  maxPositions: true,
  riskPerTradePct: true,
  atrStopMultiple: true,
  rewardRisk: true,
  maxPositionPct: true,
  maxGrossExposurePct: true,
  maxSectorPct: true,
  dailyLossLimitPct: true,
  dailyLossReducePct: true,
  maxDrawdownPct: true,
  maxOrdersPerMinute: true,
  maxOrdersPerDay: true,
  pdtEquityThreshold: true,
  pdtMaxDayTrades: true,
  marketBuyBufferPct: true,
  minPrice: true,
  minNotional: true,
  maxAccountAgeSeconds: true,
  allowShort: true,
  requireMarketOpen: true,
};
const RULE_KEYS = Object.keys(RULE_KEYS_SET) as (keyof RiskRules)[];

/** Version of the id's encoding: a change of what is hashed must change it, so old and new ids never meet. */
const DECISION_ID_VERSION = 5;

/** An array field of the portfolio: its items through `item`, or (malformed input) the whole value. */
function hashItems<T>(ids: TokenEncoder, items: unknown, item: (ids: TokenEncoder, x: T) => void): void {
  if (!Array.isArray(items)) return ids.scalar(items);
  ids.count(items.length);
  for (const x of items as readonly T[]) {
    if (x !== null && typeof x === 'object') item(ids, x);
    // A malformed item (not an object) goes in wrapped, as one array token, so it cannot be read as
    // the first field of an object item.
    else ids.scalar([x]);
  }
}

function hashPosition(ids: TokenEncoder, p: PortfolioSnapshot['positions'][number]): void {
  ids.scalar(p.ticker);
  ids.scalar(p.qty);
  ids.scalar(p.marketPrice);
  ids.scalar(p.sector);
}

/**
 * A position where the PDT guard applies: with its opening time as the one thing the guard reads of
 * it, the New York day it falls on (a time that is not a string goes in as it is).
 */
function hashPositionPdt(ids: TokenEncoder, p: PortfolioSnapshot['positions'][number]): void {
  hashPosition(ids, p);
  const opened: unknown = p.openedAt;
  ids.scalar(typeof opened === 'string' ? easternDay(isoMs(opened)) : opened);
}

function hashOpenOrder(ids: TokenEncoder, o: PortfolioSnapshot['openOrders'][number]): void {
  ids.scalar(o.ticker);
  ids.scalar(o.side);
  ids.scalar(o.qty);
}

/** Recent order times by their milliseconds, which is all the throttle reads of them. */
function hashTimes(ids: TokenEncoder, times: unknown, parsed: readonly number[] | null): void {
  if (!Array.isArray(times)) return ids.scalar(times);
  const ms = parsed !== null && parsed.length === times.length ? parsed : parseTimes(times);
  ids.count(ms.length);
  // One token for every unparsable time: the throttle treats them all alike.
  for (const t of ms) ids.scalar(Number.isNaN(t) ? null : t);
}

/**
 * The decision's id: the 128-bit MurmurHash3 (risk/hash.ts) of exactly the inputs that can change the decision (its action,
 * quantities, prices, state or any rule's detail), written in a fixed order as a canonical token stream:
 *
 * - verdict: id, proposalId, decision, sizeMultiplier, confidence;
 * - proposal: id, ticker, side;
 * - portfolio (or its absence): asOf, equity, cash, buyingPower, lastEquity, peakEquity,
 *   dayTradesLast5Days, tradingState; each position's ticker, qty, marketPrice, sector and, where the
 *   PDT guard applies (equity under its threshold), the New York day of its openedAt; each
 *   open order's ticker, side, qty; every recent order time, as the milliseconds it parses to (NaN
 *   alike), which is all the throttle reads of it (all lists in their given order);
 * - market: ticker, asOf, lastPrice, atr, sector, marketOpen;
 * - every rules setting; `now`; `baseQty`.
 *
 * Left out, because no rule reads them: the verdict's and proposal's texts and other fields, a
 * position's avgPrice (and its openedAt beyond its day, or at all where the PDT guard does not apply),
 * an open order's clientOrderId and submittedAt, the market's avgDollarVolume.
 * So the id (and the client_order_id derived from it) stays the same when only those change, and a
 * rule that starts reading one of them must add it here (tests/risk/decision-id.test.ts checks that
 * any change of the decision changes the id). Key order and extra keys do not matter; the tokens are
 * typed and length-prefixed, so distinct inputs collide only by chance (2^-128 a pair).
 */
export function decisionId(input: DecideInput): string {
  return idOf(input, null);
}

/** decisionId, reusing the recent order times the controller already parsed (null: parse them here). */
function idOf(input: DecideInput, recentMs: readonly number[] | null): string {
  return `rd_${encodeDecisionId(input, recentMs).digest()}`;
}

/** The token stream decisionId hashes (exported for tests and benches: its size, its determinism). */
export function encodeDecisionId(input: DecideInput, recentMs: readonly number[] | null = null): TokenEncoder {
  const { verdict: v, proposal: p, portfolio: a, market: m, rules } = input;
  const ids = new TokenEncoder();
  ids.scalar(DECISION_ID_VERSION);
  ids.scalar(v.id);
  ids.scalar(v.proposalId);
  ids.scalar(v.decision);
  ids.scalar(v.sizeMultiplier);
  ids.scalar(v.confidence);
  ids.scalar(p.id);
  ids.scalar(p.ticker);
  ids.scalar(p.side);
  if (a === null || a === undefined || typeof a !== 'object') {
    // Missing account data (null and undefined mean the same: HALTED).
    ids.scalar(null);
  } else {
    ids.count(1);
    ids.scalar(a.asOf);
    ids.scalar(a.equity);
    ids.scalar(a.cash);
    ids.scalar(a.buyingPower);
    ids.scalar(a.lastEquity);
    ids.scalar(a.peakEquity);
    ids.scalar(a.dayTradesLast5Days);
    ids.scalar(a.tradingState);
    // pdtRule reads openedAt only under the equity threshold (the same comparison as there).
    const pdtApplies = !(a.equity >= rules.pdtEquityThreshold);
    hashItems(ids, a.positions, pdtApplies ? hashPositionPdt : hashPosition);
    hashItems(ids, a.openOrders, hashOpenOrder);
    hashTimes(ids, a.recentOrderTimes, recentMs);
  }
  ids.scalar(m.ticker);
  ids.scalar(m.asOf);
  ids.scalar(m.lastPrice);
  ids.scalar(m.atr);
  ids.scalar(m.sector);
  ids.scalar(m.marketOpen);
  for (const key of RULE_KEYS) ids.scalar(rules[key]);
  ids.scalar(input.now);
  ids.scalar(input.baseQty);
  return ids;
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
  results.push({ rule: 'DECISION_ALLOWED', passed: decisionOk, detail: `DECISION_ALLOWED: decision=${verdict.decision} allowed=${ORDER_DECISIONS_TEXT}` });
  const confidenceOk = Number.isFinite(verdict.confidence) && verdict.confidence >= rules.minVerdictConfidence;
  results.push({
    rule: 'MIN_CONFIDENCE',
    passed: confidenceOk,
    detail: `MIN_CONFIDENCE: confidence=${num(verdict.confidence, 3)} min=${num(rules.minVerdictConfidence, 3)}`,
  });

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

  const caps = [cross, sizing, position, gross, sector, power];
  const capped = Math.max(0, Math.min(requested, ...caps.map((c) => c.cap)));
  results.push(minNotionalRule(ctx, capped));

  const action = actionFor(results, requested, capped);
  const allowed = action !== 'DENY';
  // The rules whose cap set the final quantity, when it is below the requested one.
  const limitedBy = action === 'RESIZE' ? caps.filter((c) => c.cap === capped).map((c) => c.result.rule) : [];
  const price = Number.isFinite(market.lastPrice) && market.lastPrice > 0 ? market.lastPrice : null;
  return {
    id: idOf(input, ctx.account ? ctx.recentMs : null),
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
    limitedBy,
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
