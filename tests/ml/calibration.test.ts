import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { dailyBarTs } from '../../market/time.ts';
import { applyCalibration, brierScore, fitCalibration, fitIsotonic, fitPlatt, logLoss } from '../../ml/calibration.ts';
import { readModelCard } from '../../ml/card.ts';
import { classificationMetrics } from '../../ml/metrics.ts';
import { loadProposer, propose } from '../../ml/proposer.ts';
import { trainModel } from '../../ml/train.ts';
import { sigmoid } from '../../ml/gbt.ts';
import { freshPglite, freshPostgres, hasPg, type TestDb } from '../support/db.ts';
import { loadDow } from './dow-fixture.ts';

describe('calibration maths', () => {
  it('computes the Brier score and reports it with the reliability table', () => {
    expect(brierScore([0.8, 0.3], [1, 0])).toBeCloseTo((0.2 ** 2 + 0.3 ** 2) / 2, 15);
    const m = classificationMetrics([0.05, 0.15, 0.95, 0.9], [0, 1, 1, 1]);
    expect(m.brier).toBeCloseTo((0.05 ** 2 + 0.85 ** 2 + 0.05 ** 2 + 0.1 ** 2) / 4, 15);
    // Reliability: bin [0, 0.1) holds 0.05 (label 0), [0.1, 0.2) holds 0.15 (label 1), [0.9, 1] both high ones.
    expect(m.calibration[0]).toMatchObject({ count: 1, observedRate: 0 });
    expect(m.calibration[1]).toMatchObject({ count: 1, observedRate: 1 });
    expect(m.calibration[9]).toMatchObject({ count: 2, observedRate: 1 });
    expect(m.calibration[9]?.meanPredicted).toBeCloseTo(0.925, 12);
  });

  it('pools adjacent violators into increasing blocks and interpolates between them', () => {
    const map = fitIsotonic([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1]);
    // 0.2 (label 1) and 0.3 (label 0) violate the order: one block of mean 0.5.
    expect(map).toEqual({ method: 'isotonic', lower: [0.1, 0.2, 0.4], upper: [0.1, 0.3, 0.4], value: [0, 0.5, 1] });
    expect(applyCalibration(map, 0.05)).toBe(0);
    expect(applyCalibration(map, 0.25)).toBe(0.5);
    expect(applyCalibration(map, 0.35)).toBeCloseTo(0.75, 12);
    expect(applyCalibration(map, 0.15)).toBeCloseTo(0.25, 12);
    expect(applyCalibration(map, 0.9)).toBe(1);
    // Equal raw probabilities are pooled first.
    expect(fitIsotonic([0.5, 0.5, 0.5, 0.7], [1, 0, 0, 1]).value).toEqual([1 / 3, 1]);
  });

  it('fits Platt scaling exactly where two groups leave nothing to trade off', () => {
    // logit 0 with 1 of 4 positive, logit 1 with 3 of 4: σ(b) = 1/4 and σ(a + b) = 3/4, so b = -ln 3, a = 2 ln 3.
    const p = [0.5, 0.5, 0.5, 0.5, sigmoid(1), sigmoid(1), sigmoid(1), sigmoid(1)];
    const y = [1, 0, 0, 0, 1, 1, 1, 0];
    const map = fitPlatt(p, y);
    expect(map.b).toBeCloseTo(-Math.log(3), 6);
    expect(map.a).toBeCloseTo(2 * Math.log(3), 6);
    expect(applyCalibration(map, 0.5)).toBeCloseTo(0.25, 6);
  });

  const data = fc
    .array(fc.tuple(fc.double({ min: 0.001, max: 0.999, noNaN: true }), fc.constantFrom(0, 1)), { minLength: 1, maxLength: 60 })
    .map((rows) => ({ p: rows.map((r) => r[0]), y: rows.map((r) => r[1]) }));

  it('isotonic output is monotone, and on its fitting data never has a worse Brier score', () => {
    fc.assert(
      fc.property(data, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 30 }), ({ p, y }, queries) => {
        const cal = fitCalibration('isotonic', p, y, [1]);
        if (!cal) throw new Error('no calibration');
        const sorted = [...queries].sort((a, b) => a - b);
        const out = sorted.map((q) => applyCalibration(cal.map, q));
        for (let i = 1; i < out.length; i++) expect(out[i] ?? 0).toBeGreaterThanOrEqual((out[i - 1] ?? 0) - 1e-12);
        expect(cal.brierCalibrated).toBeLessThanOrEqual(cal.brierRaw + 1e-12);
        expect(cal.brierCalibrated).toBeCloseTo(
          brierScore(
            p.map((v) => applyCalibration(cal.map, v)),
            y,
          ),
          12,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('Platt scaling never has a worse log loss on its fitting data (it starts from the identity)', () => {
    fc.assert(
      fc.property(data, ({ p, y }) => {
        const map = fitPlatt(p, y);
        expect(
          logLoss(
            p.map((v) => applyCalibration(map, v)),
            y,
          ),
        ).toBeLessThanOrEqual(logLoss(p, y) + 1e-9);
        expect(Number.isFinite(map.a) && Number.isFinite(map.b)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('a model trained with calibration', () => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it('stores the map and its Brier scores in the card, and the proposer proposes the calibrated probability', async () => {
    t = await (hasPg ? freshPostgres() : freshPglite());
    await loadDow(t.db, ['AA', 'KO', 'MSFT'], '1993-01-01', '1995-12-31');
    const outDir = mkdtempSync(path.join(tmpdir(), 'quorum-cal-'));
    const training = {
      horizonDays: 5,
      labelThreshold: 0,
      folds: 3,
      trees: 12,
      maxDepth: 2,
      learningRate: 0.2,
      minSamplesLeaf: 20,
      calibration: 'isotonic' as const,
      earlyStoppingRounds: null,
    };
    const r = await trainModel(t.db, { training, modelId: 'cal-gbt', outDir, reproduce: 'test' });
    const card = readModelCard(r.cardPath);
    const cal = card.calibration;
    if (!cal) throw new Error('no calibration in the card');
    expect(cal.map.method).toBe('isotonic');
    // Fitted on every fold's out-of-fold predictions.
    expect(cal.fittedOn).toEqual({ rows: card.metrics?.folds.reduce((s, f) => s + f.metrics.n, 0), folds: [1, 2, 3] });
    expect(cal.brierCalibrated).toBeLessThanOrEqual(cal.brierRaw);
    expect(card.metrics?.summary.meanBrier).toBeGreaterThan(0);
    for (const f of card.metrics?.folds ?? []) expect(f.metrics.brier).toBeGreaterThan(0);

    const proposer = await loadProposer(r.cardPath);
    const rows = card.trainingSample?.rows.slice(0, 50) ?? [];
    const raw = await proposer.predictRaw(rows);
    const calibrated = await proposer.predict(rows);
    expect(calibrated).toEqual(raw.map((p) => applyCalibration(cal.map, p)));
    // The isotonic map is a step function here: the calibrated values are its block values, not the raw ones.
    expect(calibrated.some((p, i) => Math.abs(p - (raw[i] ?? 0)) > 1e-6)).toBe(true);

    const asOf = dailyBarTs('1995-11-01');
    const res = await propose(t.db, { asOf, tickers: ['AA', 'KO', 'MSFT'], proposer, settings: { proposer: { abstainMargin: -1, topAttributions: 50 } } });
    expect(res.proposals).toHaveLength(3);
    const snap = await t.db.query<{ payload: { rows: Record<string, { values: Record<string, number> }> } }>(
      'SELECT payload FROM feature_snapshots WHERE id = $1',
      [res.featureSnapshotId],
    );
    for (const p of res.proposals) {
      const values = snap.rows[0]?.payload.rows[p.ticker]?.values ?? {};
      const [rawP] = await proposer.predictRaw([card.input.features.map((f) => values[f] ?? 0)]);
      expect(p.probability).toBe(applyCalibration(cal.map, rawP ?? 0));
      // TreeSHAP still explains the raw margin: base + Σφ = logit of the raw probability.
      expect(p.attributionMethod).toBe('treeshap');
      const margin = (p.attributionBase ?? 0) + p.attributions.reduce((s, a) => s + a.contribution, 0);
      expect(sigmoid(margin)).toBeCloseTo(rawP ?? 0, 5);
    }
    await proposer.session.release();
  });
});
