import { z } from 'zod';
import { IsoDateTime, Side, Ticker, TradingState } from './common.ts';

/** SCREAMING_SNAKE rule names, e.g. MAX_POSITIONS. */
export const RuleName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected a SCREAMING_SNAKE rule name');

/** One rule's outcome with the numbers, e.g. `MAX_POSITIONS: open=12 limit=12`. */
export const RuleResult = z
  .object({
    rule: RuleName,
    passed: z.boolean(),
    detail: z.string().max(500),
  })
  .strict();
export type RuleResult = z.infer<typeof RuleResult>;

export const RiskAction = z.enum(['ALLOW', 'RESIZE', 'DENY']);
export type RiskAction = z.infer<typeof RiskAction>;

/** The deterministic risk controller's decision: the last word before any order. */
export const RiskDecision = z
  .object({
    id: z.string().min(1),
    proposalId: z.string().min(1),
    verdictId: z.string().min(1),
    ticker: Ticker,
    side: Side,
    action: RiskAction,
    /** Quantity before risk rules (model size times the committee's multiplier). */
    requestedQty: z.number().int().min(0),
    finalQty: z.number().int().min(0),
    entryPrice: z.number().positive().nullable(),
    stop: z.number().positive().nullable(),
    target: z.number().positive().nullable(),
    tradingState: TradingState,
    rules: z.array(RuleResult),
    /** On RESIZE, the rules whose cap set finalQty (e.g. MAX_POSITION_PCT); empty otherwise. */
    limitedBy: z.array(RuleName).max(32).default([]),
    decidedAt: IsoDateTime,
  })
  .strict();
export type RiskDecision = z.infer<typeof RiskDecision>;
