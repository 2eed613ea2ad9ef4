/**
 * Outcome memory in a backtest (ADR 0035): every proposal the committee judged is remembered, and
 * once its horizon has passed its outcome (verdict, the move over the horizon) is stored in the
 * backtest's own database through rag's storeOutcome; the committee's past_outcomes tool searches
 * them point in time (rag's searchOutcomes: only outcomes known strictly before the as-of).
 */
import type { Proposal, Verdict } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import { dailyBarTs } from '../../market/index.ts';
import { searchOutcomes, situationText, storeOutcome, type Embedder } from '../../rag/index.ts';
import type { OutcomeSearcher } from '../../tools/index.ts';
import type { PriceView } from './data.ts';

export interface BacktestMemory {
  /** The committee's outcome search. */
  search: OutcomeSearcher;
  /** Remembers a proposal judged on day `dayIdx`. */
  judged(proposal: Proposal, verdict: Verdict, dayIdx: number): void;
  /** Stores the outcomes whose horizon ended on or before day `i` (known at that day's close). */
  settle(view: PriceView, i: number): Promise<void>;
  /** Outcomes stored so far. */
  readonly stored: number;
}

/** Outcome memory over `db` (migrated), embedding with `embedder`; a proposal's horizon is its own horizonDays. */
export function createBacktestMemory(db: Db, embedder: Embedder): BacktestMemory {
  const pending: Array<{ proposal: Proposal; verdict: Verdict; dayIdx: number }> = [];
  let stored = 0;
  return {
    search: (query) => searchOutcomes(db, embedder, query),
    judged(proposal, verdict, dayIdx) {
      pending.push({ proposal, verdict, dayIdx });
    },
    async settle(view, i) {
      for (let k = 0; k < pending.length; k++) {
        const item = pending[k];
        if (!item) continue;
        const end = item.dayIdx + item.proposal.horizonDays;
        if (end > i) continue;
        pending.splice(k--, 1);
        const c0 = view.closeAt(item.proposal.ticker, item.dayIdx);
        const c1 = view.closeAt(item.proposal.ticker, end);
        if (c0 === null || c1 === null || c0 <= 0) continue;
        await storeOutcome(db, embedder, {
          proposalId: item.proposal.id,
          ticker: item.proposal.ticker,
          side: item.proposal.side,
          asOf: item.proposal.asOf,
          knownAt: dailyBarTs(view.days[end] ?? ''),
          decision: item.verdict.decision,
          sizeMultiplier: item.verdict.sizeMultiplier,
          confidence: item.verdict.confidence,
          forwardReturn: c1 / c0 - 1,
          horizonDays: item.proposal.horizonDays,
          endedBy: 'horizon',
          situation: situationText(item.proposal),
          reflection: null,
        });
        stored++;
      }
    },
    get stored() {
      return stored;
    },
  };
}
