/**
 * The kill switch. It reads an account snapshot at `now` and says whether new orders may open
 * exposure (ACTIVE), may only reduce it (REDUCING), or may not be sent at all (HALTED).
 * It fails closed: missing, invalid or stale account data means HALTED.
 */
import type { RiskRules } from '../config/schema.ts';
import type { PortfolioSnapshot } from '../contracts/portfolio.ts';
import type { RuleResult } from '../contracts/risk-decision.ts';
import { num, pct } from './format.ts';
import type { TradingStateAssessment } from './schema.ts';
import { isoMs, nowMs } from './time.ts';

function notPositive(portfolio: PortfolioSnapshot, name: 'equity' | 'lastEquity' | 'peakEquity'): string | null {
  const v = portfolio[name];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? null : `${name}=${String(v)} is not a positive number`;
}

function notFinite(portfolio: PortfolioSnapshot, name: 'cash' | 'buyingPower'): string | null {
  const v = portfolio[name];
  return typeof v === 'number' && Number.isFinite(v) ? null : `${name}=${String(v)} is not a finite number`;
}

/** Why an account snapshot cannot be used, or null when its numbers are sane. */
export function accountProblem(portfolio: PortfolioSnapshot | null | undefined): string | null {
  return problemOf(portfolio, portfolio && typeof portfolio === 'object' && typeof portfolio.asOf === 'string' ? isoMs(portfolio.asOf) : Number.NaN);
}

/** accountProblem with `asOf` already parsed (the caller needs its milliseconds too). */
function problemOf(portfolio: PortfolioSnapshot | null | undefined, asOfMs: number): string | null {
  if (portfolio === null || portfolio === undefined) return 'missing account data';
  if (typeof portfolio !== 'object') return 'account data is not an object';
  const problem =
    notPositive(portfolio, 'equity') ??
    notPositive(portfolio, 'lastEquity') ??
    notPositive(portfolio, 'peakEquity') ??
    notFinite(portfolio, 'cash') ??
    notFinite(portfolio, 'buyingPower');
  if (problem) return problem;
  if (typeof portfolio.asOf !== 'string' || !Number.isFinite(asOfMs)) return `asOf=${String(portfolio.asOf)} is not a timestamp`;
  if (!Array.isArray(portfolio.positions) || !Array.isArray(portfolio.openOrders) || !Array.isArray(portfolio.recentOrderTimes)) {
    return 'positions, openOrders or recentOrderTimes missing';
  }
  for (const p of portfolio.positions) {
    if (!Number.isFinite(p.qty) || !(p.marketPrice > 0)) return `position ${p.ticker}: qty=${p.qty} marketPrice=${p.marketPrice} invalid`;
  }
  return null;
}

/** Loss since the previous close as a percentage of it (0 when up). */
export function dailyLossPct(equity: number, lastEquity: number): number {
  // Multiply before dividing so round numbers stay exact (a 3% loss is 3, not 2.9999999999999996).
  return Math.max(0, ((lastEquity - equity) * 100) / lastEquity);
}

/** Drawdown from the high-water mark as a percentage of it (0 at a new high). */
export function drawdownPct(equity: number, peakEquity: number): number {
  return Math.max(0, ((peakEquity - equity) * 100) / peakEquity);
}

/**
 * The effective trading state of `portfolio` at `now` (an ISO timestamp), with the rule results
 * ACCOUNT_FRESH, DAILY_LOSS and MAX_DRAWDOWN.
 *
 * Precedence: unusable or stale account -> HALTED; an operator's HALTED stays HALTED; daily loss at or
 * over `dailyLossLimitPct` or drawdown at or over `maxDrawdownPct` -> HALTED; daily loss at or over
 * `dailyLossReducePct` -> REDUCING; an operator's REDUCING stays; otherwise ACTIVE. A manual resume
 * (stored state ACTIVE) therefore cannot override a loss limit that is still breached.
 */
export function tradingStateFor(portfolio: PortfolioSnapshot | null | undefined, rules: RiskRules, now: string): TradingStateAssessment {
  return tradingStateAt(portfolio, rules, nowMs(now));
}

/** tradingStateFor with `now` already parsed to milliseconds (the controller parses it once per decision). */
export function tradingStateAt(portfolio: PortfolioSnapshot | null | undefined, rules: RiskRules, at: number): TradingStateAssessment {
  const asOfMs = portfolio && typeof portfolio === 'object' && typeof portfolio.asOf === 'string' ? isoMs(portfolio.asOf) : Number.NaN;
  const problem = problemOf(portfolio, asOfMs);
  if (problem !== null || !portfolio) {
    const why = problem ?? 'missing account data';
    return {
      state: 'HALTED',
      automatic: true,
      reason: `account data unusable: ${why}`,
      accountUsable: false,
      accountAgeSeconds: null,
      dailyLossPct: null,
      drawdownPct: null,
      rules: [
        { rule: 'ACCOUNT_FRESH', passed: false, detail: `ACCOUNT_FRESH: ${why} (fail closed)` },
        { rule: 'DAILY_LOSS', passed: false, detail: `DAILY_LOSS: unknown (no usable account data) haltAt=${pct(rules.dailyLossLimitPct)}` },
        { rule: 'MAX_DRAWDOWN', passed: false, detail: `MAX_DRAWDOWN: unknown (no usable account data) limit=${pct(rules.maxDrawdownPct)}` },
      ],
    };
  }

  const ageSeconds = (at - asOfMs) / 1000;
  // Data dated in the future beyond the allowed age is as untrustworthy as data that old.
  const fresh = Math.abs(ageSeconds) <= rules.maxAccountAgeSeconds;
  const loss = dailyLossPct(portfolio.equity, portfolio.lastEquity);
  const drawdown = drawdownPct(portfolio.equity, portfolio.peakEquity);
  const lossHalt = loss >= rules.dailyLossLimitPct;
  const drawdownHalt = drawdown >= rules.maxDrawdownPct;
  const lossReduce = loss >= rules.dailyLossReducePct;
  const age = num(ageSeconds, 1);
  const lossText = pct(loss);
  const equity = num(portfolio.equity);

  const results: RuleResult[] = [
    {
      rule: 'ACCOUNT_FRESH',
      passed: fresh,
      detail: `ACCOUNT_FRESH: age=${age}s limit=${rules.maxAccountAgeSeconds}s${fresh ? '' : ' (stale: fail closed)'}`,
    },
    {
      rule: 'DAILY_LOSS',
      passed: !lossHalt,
      detail:
        `DAILY_LOSS: loss=${lossText} reduceAt=${pct(rules.dailyLossReducePct)} haltAt=${pct(rules.dailyLossLimitPct)} ` +
        `equity=${equity} lastEquity=${num(portfolio.lastEquity)}`,
    },
    {
      rule: 'MAX_DRAWDOWN',
      passed: !drawdownHalt,
      detail: `MAX_DRAWDOWN: drawdown=${pct(drawdown)} limit=${pct(rules.maxDrawdownPct)} equity=${equity} peak=${num(portfolio.peakEquity)}`,
    },
  ];

  let state: TradingStateAssessment['state'] = 'ACTIVE';
  let automatic = false;
  let reason = 'within all limits';
  if (!fresh) {
    state = 'HALTED';
    automatic = true;
    reason = `account data stale: age=${age}s > ${rules.maxAccountAgeSeconds}s`;
  } else if (portfolio.tradingState === 'HALTED') {
    state = 'HALTED';
    reason = 'halted by the operator (stored state HALTED)';
  } else if (lossHalt) {
    state = 'HALTED';
    automatic = true;
    reason = `daily loss ${lossText} >= ${pct(rules.dailyLossLimitPct)}`;
  } else if (drawdownHalt) {
    state = 'HALTED';
    automatic = true;
    reason = `drawdown ${pct(drawdown)} >= ${pct(rules.maxDrawdownPct)}`;
  } else if (lossReduce) {
    state = 'REDUCING';
    automatic = true;
    reason = `daily loss ${lossText} >= ${pct(rules.dailyLossReducePct)}`;
  } else if (portfolio.tradingState === 'REDUCING') {
    state = 'REDUCING';
    reason = 'reducing by the operator (stored state REDUCING)';
  }
  return { state, automatic, reason, accountUsable: true, accountAgeSeconds: ageSeconds, dailyLossPct: loss, drawdownPct: drawdown, rules: results };
}
