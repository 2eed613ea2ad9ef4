/**
 * Outcome memory, point in time (ADR 0035), on PGlite and PostgreSQL with the real USE-lite
 * embedder: a search as of T returns only outcomes known strictly before T, and, with k large
 * enough, every one of them (of the ticker asked for); the past_outcomes tool shows the same.
 * Bad records are refused naming the field, and nothing is stored.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUseLiteEmbedder, outcomeId, searchOutcomes, situationText, storeOutcome, MAX_OUTCOME_K, type OutcomeRecord } from '../../rag/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { memoEmbedder } from './memo-embedder.ts';

const embedder = memoEmbedder(createUseLiteEmbedder());
const TICKERS = ['GE', 'IBM', 'KO'] as const;
const DAY = 86_400_000;
const T0 = Date.parse('1996-01-02T21:00:00Z');

/** A record judged `asOfDay` days after T0 and known `lagDays` later. */
function record(i: number, ticker: (typeof TICKERS)[number], asOfDay: number, lagDays: number, side: 'buy' | 'sell', ret: number): OutcomeRecord {
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
    horizonDays: 5,
    endedBy: 'horizon',
    situation: situationText(p),
    reflection: null,
  };
}

describe.each(BACKENDS)('outcome memory on $name', ({ open }) => {
  let t: TestDb;
  const stored: OutcomeRecord[] = [];
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
    expect(later.find((h) => h.id === outcomeId(r.proposalId))?.summary).toMatch(/^(GE|IBM|KO) (buy|sell) proposal.*over 5 trading days/);
  });

  it('refuses an outcome known before its decision, naming the field, and stores nothing', async () => {
    const bad = { ...record(99, 'GE', 10, 1, 'buy', 0.01), knownAt: new Date(T0).toISOString() };
    await expect(storeOutcome(t.db, embedder, bad)).rejects.toThrow(/knownAt/);
    const n = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outcomes');
    expect(n.rows[0]?.n).toBe(30);
  });
});
