/**
 * Outcome memory, point in time (ADR 0035), on PGlite and PostgreSQL with the real USE-lite
 * embedder: a search as of T returns only outcomes known strictly before T, and, with k large
 * enough, every one of them (of the ticker asked for); the past_outcomes tool shows the same.
 * Bad records are refused naming the field, and nothing is stored.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createUseLiteEmbedder,
  outcomeId,
  recordOutcome,
  searchOutcomes,
  situationText,
  storeOutcome,
  MAX_OUTCOME_K,
  MAX_REFLECTION_CHARS,
  type OutcomeRecordInput,
} from '../../rag/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { memoEmbedder } from './memo-embedder.ts';

const embedder = memoEmbedder(createUseLiteEmbedder());
const TICKERS = ['GE', 'IBM', 'KO'] as const;
const DAY = 86_400_000;
const T0 = Date.parse('1996-01-02T21:00:00Z');

/**
 * A record judged `asOfDay` days after T0 and known `lagDays` later: one in three ended early, its
 * position closed by a stop or target `lagDays` after the decision (known from its close time).
 */
function record(i: number, ticker: (typeof TICKERS)[number], asOfDay: number, lagDays: number, side: 'buy' | 'sell', ret: number): OutcomeRecordInput {
  const p = {
    ticker,
    side,
    probability: 0.55 + (i % 4) / 20,
    attributions: [{ feature: i % 2 ? 'rsi14' : 'ema_ratio', value: 1, contribution: side === 'buy' ? 0.1 : -0.1 }],
  };
  return {
    proposalId: `prop_${i}`,
    ticker,
    side,
    asOf: new Date(T0 + asOfDay * DAY).toISOString(),
    knownAt: new Date(T0 + (asOfDay + lagDays) * DAY).toISOString(),
    decision: i % 3 === 0 ? 'REJECT' : 'APPROVE',
    sizeMultiplier: i % 3 === 0 ? 0 : 1,
    confidence: 0.6,
    forwardReturn: ret,
    horizonDays: 12,
    endedBy: i % 3 === 1 ? 'closed' : 'horizon',
    exit: i % 3 === 1 ? { reason: i % 2 ? 'stop' : 'target', daysHeld: lagDays - 1 } : null,
    situation: situationText(p),
    reflection: null,
  };
}

describe.each(BACKENDS)('outcome memory on $name', ({ open }) => {
  let t: TestDb;
  const stored: OutcomeRecordInput[] = [];
  beforeAll(async () => {
    t = await open();
    // 30 outcomes over ~60 days, known 5..12 days after their decision.
    for (let i = 0; i < 30; i++) {
      const r = record(i, TICKERS[i % 3] ?? 'GE', i * 2, 5 + (i % 8), i % 4 === 0 ? 'sell' : 'buy', ((i % 5) - 2) / 100);
      await storeOutcome(t.db, embedder, r);
      stored.push(r);
    }
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('never returns an outcome known at or after the as-of, and returns every one known before it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 80 * 24 }),
        fc.constantFrom<(typeof TICKERS)[number] | null>(null, ...TICKERS),
        fc.integer({ min: 1, max: MAX_OUTCOME_K }),
        fc.integer({ min: 0, max: 29 }),
        async (hours, ticker, k, probe) => {
          const asOf = new Date(T0 + hours * 3_600_000);
          const hits = await searchOutcomes(t.db, embedder, { query: stored[probe]?.situation ?? 'GE buy', asOf, ticker, k });
          for (const h of hits) expect(Date.parse(h.knownAt)).toBeLessThan(asOf.getTime());
          const known = stored.filter((r) => Date.parse(r.knownAt) < asOf.getTime() && (ticker === null || r.ticker === ticker));
          expect(hits.length).toBe(Math.min(k, known.length));
          if (known.length <= k) expect(new Set(hits.map((h) => h.id))).toEqual(new Set(known.map((r) => outcomeId(r.proposalId))));
          if (ticker) expect(hits.every((h) => h.ticker === ticker)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  it('an outcome known exactly at the as-of is not yet known', async () => {
    const r = stored[3];
    if (!r) throw new Error('no record');
    const at = new Date(r.knownAt);
    const hits = await searchOutcomes(t.db, embedder, { query: r.situation, asOf: at, ticker: r.ticker, k: MAX_OUTCOME_K });
    expect(hits.map((h) => h.id)).not.toContain(outcomeId(r.proposalId));
    const later = await searchOutcomes(t.db, embedder, { query: r.situation, asOf: new Date(at.getTime() + 1), ticker: r.ticker, k: MAX_OUTCOME_K });
    expect(later.map((h) => h.id)).toContain(outcomeId(r.proposalId));
    expect(later.find((h) => h.id === outcomeId(r.proposalId))?.summary).toMatch(/^(GE|IBM|KO) (buy|sell) proposal.*over 12 trading days/);
  });

  it('a position closed early is known from its close: its exit, days held and realised move in the summary and the row', async () => {
    const r = stored[4];
    if (!r?.exit) throw new Error('no closed record');
    const at = new Date(r.knownAt);
    expect((await searchOutcomes(t.db, embedder, { query: r.situation, asOf: at, ticker: r.ticker, k: MAX_OUTCOME_K })).map((h) => h.id)).not.toContain(
      outcomeId(r.proposalId),
    );
    const hit = (await searchOutcomes(t.db, embedder, { query: r.situation, asOf: new Date(at.getTime() + 1), ticker: r.ticker, k: MAX_OUTCOME_K })).find(
      (h) => h.id === outcomeId(r.proposalId),
    );
    expect(hit?.summary).toContain(`the position closed ${r.knownAt.slice(0, 10)} by its ${r.exit.reason} after ${r.exit.daysHeld} of 12 trading days`);
    const row = await t.db.query('SELECT ended_by, exit_reason, days_held, reflection, reflection_error FROM outcomes WHERE id = $1', [
      outcomeId(r.proposalId),
    ]);
    expect(row.rows[0]).toEqual({ ended_by: 'closed', exit_reason: r.exit.reason, days_held: r.exit.daysHeld, reflection: null, reflection_error: null });
  });

  it('stores a reflection that does not fit the record as null with the reason, the record whole', async () => {
    const r = { ...record(98, 'KO', 70, 3, 'buy', 0.02), proposalId: 'prop_long_reflection' };
    let asked = '';
    await recordOutcome(t.db, embedder, r, async (outcome) => {
      asked = outcome;
      return { reflection: 'x'.repeat(MAX_REFLECTION_CHARS + 1), error: null };
    });
    expect(asked).toMatch(/^KO buy proposal/);
    const row = await t.db.query('SELECT reflection, reflection_error, summary FROM outcomes WHERE id = $1', [outcomeId(r.proposalId)]);
    expect(row.rows[0]).toMatchObject({
      reflection: null,
      reflection_error: expect.stringMatching(/^LLM_OUTPUT_INVALID: .*at most 400 UTF-16 units/),
      summary: asked,
    });
    await t.db.query('DELETE FROM outcomes WHERE id = $1', [outcomeId(r.proposalId)]);
  });

  it('refuses a closed outcome without its exit, naming the field, and stores nothing', async () => {
    await expect(storeOutcome(t.db, embedder, { ...record(97, 'GE', 10, 3, 'buy', 0.01), endedBy: 'closed', exit: null })).rejects.toThrow(/exit/);
  });

  it('refuses an outcome known before its decision, naming the field, and stores nothing', async () => {
    const bad = { ...record(99, 'GE', 10, 1, 'buy', 0.01), knownAt: new Date(T0).toISOString() };
    await expect(storeOutcome(t.db, embedder, bad)).rejects.toThrow(/knownAt/);
    const n = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outcomes');
    expect(n.rows[0]?.n).toBe(30);
  });
});
