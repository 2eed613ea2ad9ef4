/**
 * Outcome memory in a committee run (ADR 0035), rules baseline on PGlite with the real embedder and
 * the real MSFT bars: the analyst calls past_outcomes, which returns only outcomes known before the
 * as-of; the agents cite them as `outcome:<id>`, and every such citation resolves to an
 * outcome_retrievals row of the run (the audit chain's link); losing past outcomes shrink the size,
 * never enlarge it; without memory the run calls no past_outcomes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { runCommittee } from '../../graph/index.ts';
import { createUseLiteEmbedder, searchOutcomes, situationText, storeOutcome, outcomeId } from '../../rag/index.ts';
import { readRunOutcomeRetrievals, readRunToolCalls } from '../../sessions/committee-views.ts';
import { freshPglite, type TestDb } from '../support/db.ts';
import { loadMsft, makeProposal, storeProposal } from '../support/committee.ts';
import { memoEmbedder } from '../rag/memo-embedder.ts';

const config = loadConfig({ env: {} });
const embedder = memoEmbedder(createUseLiteEmbedder());
const AS_OF = '2001-06-01T20:00:00.000Z';
let t: TestDb;

beforeAll(async () => {
  t = await freshPglite();
  await loadMsft(t.db);
  const past = makeProposal({ id: 'prop-past' });
  // Three earlier MSFT buys that lost, known before the as-of; one more known only after it.
  const known = [
    ['2001-05-01T20:00:00.000Z', '2001-05-08T20:00:00.000Z', -0.03],
    ['2001-05-08T20:00:00.000Z', '2001-05-15T20:00:00.000Z', -0.02],
    ['2001-05-15T20:00:00.000Z', '2001-05-22T20:00:00.000Z', -0.04],
    ['2001-05-28T20:00:00.000Z', '2001-06-04T20:00:00.000Z', 0.05],
  ] as const;
  for (const [i, [asOf, knownAt, ret]] of known.entries()) {
    await storeOutcome(t.db, embedder, {
      proposalId: `prop-past-${i}`,
      ticker: 'MSFT',
      side: 'buy',
      asOf,
      knownAt,
      decision: 'APPROVE',
      sizeMultiplier: 1,
      confidence: 0.6,
      forwardReturn: ret,
      horizonDays: 5,
      endedBy: 'horizon',
      situation: situationText(past),
      reflection: null,
    });
  }
}, 120_000);
afterAll(async () => {
  await t?.cleanup();
});

describe('outcome memory in a committee run', () => {
  it('retrieves only outcomes known before the as-of, cites them as outcome:<id>, each citation resolving to the run', async () => {
    const search = (q: Parameters<typeof searchOutcomes>[2]) => searchOutcomes(t.db, embedder, q);
    const withMemory = makeProposal({ id: 'prop-mem-1', featureSnapshotId: 'fs-mem-1', asOf: AS_OF });
    await storeProposal(t.db, withMemory);
    const res = await runCommittee({ db: t.db, config, proposal: withMemory, backend: 'rules', searchOutcomes: search });
    const calls = await readRunToolCalls(t.db, res.runId);
    expect(calls.filter((c) => c.tool === 'past_outcomes').map((c) => [c.agent, c.ok])).toEqual([['analyst', true]]);
    const retrieved = await readRunOutcomeRetrievals(t.db, res.runId);
    expect(new Set(retrieved.map((r) => r.outcome_id))).toEqual(new Set([0, 1, 2].map((i) => outcomeId(`prop-past-${i}`))));
    expect(retrieved.every((r) => Date.parse(String(r.known_at)) < Date.parse(AS_OF))).toBe(true);

    const cited = [...res.opinions.flatMap((o) => o.claims), ...res.verdict.reasons].flatMap((c) => c.evidence).filter((e) => e.startsWith('outcome:'));
    expect(cited.length).toBeGreaterThan(0);
    const ids = new Set(retrieved.map((r) => `outcome:${r.outcome_id}`));
    for (const c of cited) expect(ids.has(c)).toBe(true);

    // The same proposal without memory: no past_outcomes call, and memory only ever shrank the size.
    const plain = makeProposal({ id: 'prop-mem-2', featureSnapshotId: 'fs-mem-2', asOf: AS_OF });
    await storeProposal(t.db, plain);
    const without = await runCommittee({ db: t.db, config, proposal: plain, backend: 'rules' });
    expect((await readRunToolCalls(t.db, without.runId)).some((c) => c.tool === 'past_outcomes')).toBe(false);
    expect(res.verdict.sizeMultiplier).toBeLessThanOrEqual(without.verdict.sizeMultiplier);
    if (without.verdict.decision === 'APPROVE' || without.verdict.decision === 'REDUCE')
      expect(res.verdict.sizeMultiplier).toBeCloseTo(Math.round(without.verdict.sizeMultiplier * 0.75 * 100) / 100, 2);
  }, 120_000);
});
