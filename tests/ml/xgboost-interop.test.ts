import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseJson } from '../../contracts/parse.ts';
import { dailyBarTs } from '../../market/time.ts';
import { readModelCard } from '../../ml/card.ts';
import { loadProposer, propose } from '../../ml/proposer.ts';
import { treeShap } from '../../ml/treeshap.ts';
import { freshPglite, freshPostgres, hasPg, type TestDb } from '../support/db.ts';
import { loadDow } from './dow-fixture.ts';

/** tests/fixtures/xgboost: a real XGBoost booster in onnxmltools' ONNX layout (make_fixture.py says how). */
const DIR = path.join(import.meta.dirname, '../fixtures/xgboost');
const Expected = z.object({ xgboost: z.string(), rows: z.array(z.array(z.number())), probability: z.array(z.number()), margin: z.array(z.number()) });

describe('an XGBoost model exported to ONNX (the onnxmltools layout)', () => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it("loads through the real proposer, gives XGBoost's own probabilities, and TreeSHAP sums to XGBoost's margin", async () => {
    const json = parseJson(readFileSync(path.join(DIR, 'expected.json'), 'utf8'));
    if (!json.ok) throw new Error(json.error);
    const expected = Expected.parse(json.value);
    const proposer = await loadProposer(path.join(DIR, 'model-card.json'));
    try {
      expect(proposer.probabilityOutput).toBe('probabilities');
      expect(proposer.zipMapStripped).toBe(false);
      const p = await proposer.predict(expected.rows);
      expect(p).toHaveLength(expected.probability.length);
      p.forEach((v, i) => expect(Math.abs(v - (expected.probability[i] ?? 0))).toBeLessThan(1e-6));
      const shap = proposer.shap;
      if (!shap) throw new Error(`no TreeSHAP: ${proposer.shapUnavailable}`);
      // base_score 0.5: no base_values attribute, so the margin is the leaves' sum alone.
      expect(shap.trees).toHaveLength(8);
      expected.rows.forEach((row, i) => {
        const r = treeShap(shap, row);
        const sum = r.expected + r.phi.reduce((s, v) => s + v, 0);
        expect(Math.abs(sum - (expected.margin[i] ?? 0))).toBeLessThan(1e-5);
      });
    } finally {
      await proposer.session.release();
    }
  });

  it('proposes on stored bars with exact attributions', async () => {
    t = await (hasPg ? freshPostgres() : freshPglite());
    await loadDow(t.db, ['KO', 'MSFT'], '1996-01-01', '1996-12-31');
    const card = readModelCard(path.join(DIR, 'model-card.json'));
    const proposer = await loadProposer(path.join(DIR, 'model-card.json'));
    try {
      const res = await propose(t.db, {
        asOf: dailyBarTs('1996-10-01'),
        tickers: ['KO', 'MSFT'],
        proposer,
        settings: { proposer: { abstainMargin: -1, topAttributions: 20 } },
      });
      expect(res.proposals.map((p) => [p.ticker, p.modelId, p.modelVersion, p.attributionMethod])).toEqual([
        ['KO', 'xgb-fixture', card.version, 'treeshap'],
        ['MSFT', 'xgb-fixture', card.version, 'treeshap'],
      ]);
      for (const p of res.proposals) {
        const margin = (p.attributionBase ?? 0) + p.attributions.reduce((s, a) => s + a.contribution, 0);
        expect(1 / (1 + Math.exp(-margin))).toBeCloseTo(p.probability, 5);
        expect(p.side).toBe(p.probability > 0.5 ? 'buy' : 'sell');
      }
    } finally {
      await proposer.session.release();
    }
  });
});
