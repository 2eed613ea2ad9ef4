/**
 * Outcome memory in the backtest (ADR 0035), on PGlite with the real USE-lite embedder and the
 * bundled IBM prices: a judged proposal's outcome is recorded when its position closed (a stop,
 * target, time or reversal exit from the committee book's closed lots: the exit, days held and the
 * realised move) or when its horizon passed, whichever came first, and is known from that day's
 * close. Property: whatever the horizon and the close, the outcome is never stored before that
 * day, never visible to a search as of that close, and visible from the next day's as-of.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriceView, loadBundledPrices } from '../../evals/backtest/data.ts';
import { proposerVerdict } from '../../evals/backtest/engine.ts';
import { createBacktestMemory } from '../../evals/backtest/memory.ts';
import type { LotClose } from '../../evals/backtest/broker.ts';
import { dailyBarTs } from '../../market/index.ts';
import { createUseLiteEmbedder, outcomeId, searchOutcomes } from '../../rag/index.ts';
import { freshPglite, type TestDb } from '../support/db.ts';
import { makeProposal } from '../support/committee.ts';
import { memoEmbedder } from '../rag/memo-embedder.ts';

const embedder = memoEmbedder(createUseLiteEmbedder());
const view = new PriceView(loadBundledPrices(['IBM']).bars);
const FIRST = 300;
let t: TestDb;

beforeAll(async () => {
  t = await freshPglite();
}, 120_000);
afterAll(async () => {
  await t?.cleanup();
});

describe('outcome memory in the backtest', () => {
  it('records a closed position from its close and a passed horizon from its end, never visible before', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 2, max: 8 }),
        fc.option(
          fc.record({
            after: fc.integer({ min: 1, max: 12 }),
            reason: fc.constantFrom('stop', 'target', 'time', 'reversal') as fc.Arbitrary<LotClose['reason']>,
          }),
        ),
        fc.constantFrom('buy', 'sell') as fc.Arbitrary<'buy' | 'sell'>,
        async (offset, horizonDays, close, side) => {
          const dayIdx = FIRST + offset;
          const id = `prop-bt-mem-${++n}`;
          const proposal = makeProposal({ id, ticker: 'IBM', side, horizonDays, asOf: dailyBarTs(view.days[dayIdx] ?? '') });
          // The lot fills the next day and closes `after` days later (or never, within the test).
          const closes: LotClose[] = close
            ? [
                {
                  ref: `committee-${id}`,
                  ticker: 'IBM',
                  side: side === 'buy' ? 'long' : 'short',
                  entryIdx: dayIdx + 1,
                  entryPrice: 100,
                  exitIdx: dayIdx + close.after,
                  exitDate: view.days[dayIdx + close.after] ?? '',
                  exitPrice: 104,
                  reason: close.reason,
                },
              ]
            : [];
          const memory = createBacktestMemory(t.db, embedder, { closes: () => closes });
          memory.judged(proposal, proposerVerdict(proposal, proposal.asOf), dayIdx);
          const closedFirst = close !== null && close.after <= horizonDays;
          const knownIdx = closedFirst ? dayIdx + close.after : dayIdx + horizonDays;
          for (let i = dayIdx; i <= dayIdx + 13; i++) {
            await memory.settle(view, i);
            const row = await t.db.query<{ known_at: Date; ended_by: string; exit_reason: string | null; days_held: number | null; forward_return: number }>(
              'SELECT known_at, ended_by, exit_reason, days_held, forward_return FROM outcomes WHERE id = $1',
              [outcomeId(id)],
            );
            if (i < knownIdx) {
              expect(row.rows).toEqual([]);
              continue;
            }
            expect(new Date(row.rows[0]?.known_at ?? 0).toISOString()).toBe(dailyBarTs(view.days[knownIdx] ?? ''));
            if (closedFirst) {
              expect(row.rows[0]).toMatchObject({ ended_by: 'closed', exit_reason: close.reason, days_held: close.after - 1 });
              expect(row.rows[0]?.forward_return).toBeCloseTo(0.04, 10);
            } else expect(row.rows[0]).toMatchObject({ ended_by: 'horizon', exit_reason: null, days_held: null });
          }
          const at = async (idx: number): Promise<string[]> =>
            (await searchOutcomes(t.db, embedder, { query: 'IBM', asOf: new Date(dailyBarTs(view.days[idx] ?? '')), ticker: 'IBM', k: 10 })).map((h) => h.id);
          expect(await at(knownIdx)).not.toContain(outcomeId(id));
          expect(await at(knownIdx + 1)).toContain(outcomeId(id));
          expect(memory.stored).toBe(1);
          expect(memory.closed).toBe(closedFirst ? 1 : 0);
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);
});
