/**
 * Outcome memory in a backtest (ADR 0035): every proposal the committee judged is remembered, and
 * its outcome is stored in the backtest's own database through rag's recordOutcome once it is
 * known: when the committee book's position from it closed (a stop, a target, a time or reversal
 * exit: what the position realised, known at the close of the exit's day), or else when its horizon
 * passed (the move over the horizon, known at that day's close), whichever came first. The
 * committee's past_outcomes tool searches them point in time (only outcomes known strictly before
 * the as-of), so an outcome settled at a day's close is seen from the next day's decisions on.
 */
import type { Proposal, Verdict } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import { dailyBarTs } from '../../market/index.ts';
import { outcomeBase, recordOutcome, searchOutcomes, type Embedder, type OutcomeRecordInput, type OutcomeReflector } from '../../rag/index.ts';
import type { OutcomeSearcher } from '../../tools/index.ts';
import type { LotClose } from './broker.ts';
import type { PriceView } from './data.ts';

export interface BacktestMemory {
  /** The committee's outcome search. */
  search: OutcomeSearcher;
  /** Remembers a proposal judged on day `dayIdx`. */
  judged(proposal: Proposal, verdict: Verdict, dayIdx: number): void;
  /** Stores the outcomes known by day `i`'s close: positions closed on or before it, horizons ended on or before it. */
  settle(view: PriceView, i: number): Promise<void>;
  /** Outcomes stored so far, and how many of them by a closed position. */
  readonly stored: number;
  readonly closed: number;
}

export interface BacktestMemoryOptions {
  /** The committee book's lots closed in full so far (the broker's list, read at each settle). */
  closes?: () => readonly LotClose[];
  /** The ref of the entry order a proposal's verdict sent (default `committee-<id>`, the engine's). */
  refOf?: (proposalId: string) => string;
  /** An LLM backend's reflection on each outcome; none for the rules baseline. */
  reflect?: OutcomeReflector;
}

/** Outcome memory over `db` (migrated), embedding with `embedder`; a proposal's horizon is its own horizonDays. */
export function createBacktestMemory(db: Db, embedder: Embedder, options: BacktestMemoryOptions = {}): BacktestMemory {
  const pending: Array<{ proposal: Proposal; verdict: Verdict; dayIdx: number }> = [];
  const refOf = options.refOf ?? ((id: string) => `committee-${id}`);
  let stored = 0;
  let closed = 0;
  return {
    search: (query) => searchOutcomes(db, embedder, query),
    judged(proposal, verdict, dayIdx) {
      pending.push({ proposal, verdict, dayIdx });
    },
    async settle(view, i) {
      const closes = new Map<string, LotClose>();
      for (const c of options.closes?.() ?? []) if (!closes.has(c.ref)) closes.set(c.ref, c);
      for (let k = 0; k < pending.length; k++) {
        const item = pending[k];
        if (!item) continue;
        const { proposal, verdict } = item;
        const end = item.dayIdx + proposal.horizonDays;
        const close = closes.get(refOf(proposal.id));
        const closedFirst = close !== undefined && close.exitIdx <= Math.min(i, end);
        if (!closedFirst && end > i) continue;
        pending.splice(k--, 1);
        const base = outcomeBase(proposal, verdict);
        let record: OutcomeRecordInput;
        if (closedFirst) {
          record = {
            ...base,
            knownAt: dailyBarTs(close.exitDate),
            forwardReturn: close.exitPrice / close.entryPrice - 1,
            endedBy: 'closed',
            exit: { reason: close.reason, daysHeld: close.exitIdx - close.entryIdx },
          };
        } else {
          const c0 = view.closeAt(proposal.ticker, item.dayIdx);
          const c1 = view.closeAt(proposal.ticker, end);
          if (c0 === null || c1 === null || c0 <= 0) continue;
          record = { ...base, knownAt: dailyBarTs(view.days[end] ?? ''), forwardReturn: c1 / c0 - 1, endedBy: 'horizon' };
        }
        await recordOutcome(db, embedder, record, options.reflect);
        stored++;
        if (closedFirst) closed++;
      }
    },
    get stored() {
      return stored;
    },
    get closed() {
      return closed;
    },
  };
}
