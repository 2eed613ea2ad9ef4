/**
 * Drift against the bundled model's training sample: a real recent window from the bundled prices is
 * healthy, the same window shifted is flagged; PSI and KS on known cases.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SettingsSchema } from '../../config/schema.ts';
import { driftReport, ks, psi } from '../../ml/drift.ts';
import { computeFeatureColumns, type FeatureName } from '../../ml/features.ts';
import { loadProposer, type Proposer } from '../../ml/proposer.ts';
import { dowBars } from './dow-fixture.ts';

const DRIFT = SettingsSchema.parse({}).drift;
let proposer: Proposer;

/** The last `n` feature rows of each ticker, as `recentFeatureRows` reads them from the store. */
function recent(tickers: string[], end: string, n: number): Array<{ date: string; row: number[] }> {
  const out: Array<{ date: string; row: number[] }> = [];
  for (const t of tickers) {
    const bars = dowBars([t]).filter((b) => b.ts <= end);
    const cols = computeFeatureColumns(bars);
    for (let i = bars.length - n; i < bars.length; i++) {
      const row = proposer.card.input.features.map((f) => cols.columns[f as FeatureName][i] ?? Number.NaN);
      if (row.every(Number.isFinite)) out.push({ date: cols.ts[i] ?? '', row });
    }
  }
  return out;
}

beforeAll(async () => {
  proposer = await loadProposer(path.join(import.meta.dirname, '../../models/default/model-card.json'));
});
afterAll(async () => {
  await proposer.session.release();
});

describe('drift', () => {
  it('PSI is 0 and KS is 0 for the same sample; KS is 1 for disjoint ones and PSI grows with the shift', () => {
    const a = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
    expect(psi(a, a)).toBeCloseTo(0, 12);
    expect(ks(a, a)).toBe(0);
    expect(
      ks(
        a,
        a.map((v) => v + 10),
      ),
    ).toBe(1);
    expect(
      psi(
        a,
        a.map((v) => v + 0.5),
      ),
    ).toBeLessThan(
      psi(
        a,
        a.map((v) => v + 1.5),
      ),
    );
    expect(
      psi(
        a,
        a.map((v) => v + 1.5),
      ),
    ).toBeGreaterThan(DRIFT.psiAlert);
  });

  it('finds a real window from the training period healthy and flags the same window shifted', async () => {
    // A year of the whole universe: one 60-bar window of a few tickers is a regime, not a sample.
    const drift = { ...DRIFT, windowDays: 250 };
    const window = recent(proposer.card.trainingWindow.tickers, '1996-12-31T23:59:59Z', drift.windowDays);
    expect(window.length).toBeGreaterThan(5000);
    const base = { proposer, asOf: '1996-12-31T21:00:00.000Z', drift, abstainMargin: 0.05 };
    const ok = await driftReport({ ...base, recent: window });
    expect(ok.referenceRows).toBe(500);
    expect(ok.healthy).toBe(true);
    expect(ok.healthScore).toBeGreaterThan(DRIFT.minHealthScore);
    expect(ok.abstainRate).toBeGreaterThanOrEqual(0);
    // Shift rsi14 up by 0.3 and ret_20 up by 0.1 (a strong rally): both features and the predictions move.
    const j = (f: string): number => proposer.card.input.features.indexOf(f);
    const shifted = window.map((r) => ({ ...r, row: r.row.map((v, k) => (k === j('rsi14') ? v + 0.3 : k === j('ret_20') ? v + 0.1 : v)) }));
    const bad = await driftReport({ ...base, recent: shifted });
    expect(bad.features.filter((f) => f.drifted).map((f) => f.feature)).toEqual(expect.arrayContaining(['rsi14', 'ret_20']));
    expect(bad.features.find((f) => f.feature === 'ret_1')?.drifted).toBe(false);
    expect(bad.healthScore).toBeLessThan(ok.healthScore);
    expect(bad.healthy).toBe(false);
    expect(bad.reasons.join(' ')).toMatch(/rsi14: PSI/);
  });
});
