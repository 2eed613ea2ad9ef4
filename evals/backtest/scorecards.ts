/**
 * The backtest's scorecards: every proposal the committee judged, with its agents' stances and the
 * verdict, set against the close `horizonDays` trading days after its as-of close. Proposals whose
 * horizon ends after the run's last day are left out and counted (as vetoes are scored, nothing
 * after the run's last day is read).
 */
import { scorecards, type ScoredCritique, type Scorecards } from '../scorecards.ts';
import type { BacktestRun } from './engine.ts';
import { PriceView, type PriceData } from './data.ts';

/** The critiques of `run` with their realised forward returns, and how many were unresolved. */
export function backtestCritiques(
  run: Pick<BacktestRun, 'decisions' | 'result'>,
  data: PriceData,
  horizonDays: number,
): { critiques: ScoredCritique[]; unresolved: number } {
  const view = new PriceView(data.bars);
  const lastIdx = view.indexOf(run.result.to) >= 0 ? view.indexOf(run.result.to) : view.days.length - 1;
  const critiques: ScoredCritique[] = [];
  let unresolved = 0;
  for (const day of run.decisions) {
    const i = view.indexOf(day.date);
    for (const v of day.verdicts) {
      const p = day.proposals.find((x) => x.id === v.proposalId);
      if (!p || i < 0) continue;
      const j = i + horizonDays;
      const c0 = view.closeAt(p.ticker, i);
      const c1 = j <= lastIdx ? view.closeAt(p.ticker, j) : null;
      if (c0 === null || c1 === null || c0 <= 0) {
        unresolved++;
        continue;
      }
      critiques.push({
        proposalId: p.id,
        side: p.side,
        opinions: day.opinions.filter((o) => o.proposalId === p.id).map((o) => ({ role: o.role, stance: o.stance, confidence: o.confidence })),
        decision: v.decision,
        confidence: v.confidence,
        forwardReturn: c1 / c0 - 1,
      });
    }
  }
  return { critiques, unresolved };
}

/** The scorecards of a backtest's committee. */
export function backtestScorecards(run: Pick<BacktestRun, 'decisions' | 'result'>, data: PriceData, horizonDays: number): Scorecards {
  const { critiques, unresolved } = backtestCritiques(run, data, horizonDays);
  return scorecards(critiques, { unresolved });
}
