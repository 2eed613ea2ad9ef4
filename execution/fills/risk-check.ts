import type { RiskDecision } from '../../contracts/index.ts';
import { decide, type DecideInput } from '../../risk/index.ts';

/**
 * The order stage's risk check as a pure function, for callers that hold their own portfolio and
 * market snapshots (the backtest's simulated books): risk/ `decide` on exactly those inputs. The order
 * stage (`order-stage.ts`) is the one place that decides for a live or paper session; this is the same
 * call without the database and broker around it, so no folder but execution/ calls risk/ `decide`.
 */
export function riskCheck(input: DecideInput): RiskDecision {
  return decide(input);
}

/** True when a decision lets an order through (ALLOW or RESIZE with a positive quantity). */
export function allowsOrder(decision: RiskDecision): boolean {
  return decision.action !== 'DENY' && decision.finalQty > 0;
}
