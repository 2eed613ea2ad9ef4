/**
 * Schemas of what risk/ returns besides the RiskDecision contract. Types are z.infer of these.
 */
import { z } from 'zod';
import { IsoDateTime, Side, Ticker, TradingState } from '../contracts/common.ts';
import { RiskAction, RuleResult } from '../contracts/risk-decision.ts';

/** The kill switch's reading of an account at `now`: the effective trading state and why. */
export const TradingStateAssessment = z
  .object({
    state: TradingState,
    /**
     * True when the state comes from the account (stale or missing data, a loss limit) rather than the
     * stored, operator-set state. A caller should persist an automatic HALTED so it latches until
     * an operator resumes, even if equity recovers.
     */
    automatic: z.boolean(),
    reason: z.string(),
    /** False when the account data is missing or invalid: portfolio numbers must not be used. */
    accountUsable: z.boolean(),
    accountAgeSeconds: z.number().nullable(),
    dailyLossPct: z.number().nullable(),
    drawdownPct: z.number().nullable(),
    /** ACCOUNT_FRESH, DAILY_LOSS and MAX_DRAWDOWN with their numbers. */
    rules: z.array(RuleResult),
  })
  .strict();
export type TradingStateAssessment = z.infer<typeof TradingStateAssessment>;

/** A cancel request's check: always allowed, with the state recorded for the audit. */
export const CancelCheck = z
  .object({
    allowed: z.literal(true),
    tradingState: TradingState,
    rule: RuleResult,
  })
  .strict();
export type CancelCheck = z.infer<typeof CancelCheck>;

/**
 * The controller's answer for an exit (an order that only reduces an existing position, e.g. from the
 * exit monitor). It has no verdict or proposal, so it is not a RiskDecision row.
 */
export const ExitDecision = z
  .object({
    id: z.string().min(1),
    ticker: Ticker,
    /** The side that reduces the position; null when there is no position to reduce. */
    side: Side.nullable(),
    action: RiskAction,
    requestedQty: z.number().int().min(0),
    finalQty: z.number().int().min(0),
    tradingState: TradingState,
    reason: z.string().min(1),
    rules: z.array(RuleResult),
    decidedAt: IsoDateTime,
  })
  .strict();
export type ExitDecision = z.infer<typeof ExitDecision>;
