import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readModelCard } from '../../ml/card.ts';
import { CLOSE_FEATURES } from '../../ml/features.ts';
import { loadProposer } from '../../ml/proposer.ts';
import { listModels, setModelStage } from '../../ml/registry.ts';
import { buildDataset, trainModel, walkForward } from '../../ml/train.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadDow } from './dow-fixture.ts';

const TRAINING = { horizonDays: 5, labelThreshold: 0, folds: 2, trees: 8, maxDepth: 2, learningRate: 0.2, minSamplesLeaf: 20 };
const TICKERS = ['AA', 'KO', 'MSFT'];

describe.each(BACKENDS)('training on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it.skipIf(!available)('labels forward returns and purges the horizon between train and test windows', async () => {
    t = await open();
    await loadDow(t.db, TICKERS, '1993-01-01', '1995-12-31');
    const samples = await buildDataset(t.db, { tickers: TICKERS, features: CLOSE_FEATURES, horizonDays: 5, labelThreshold: 0 });
    expect(samples.every((s) => s.y === (s.forwardReturn > 0 ? 1 : 0))).toBe(true);
    const dates = [...new Set(samples.map((s) => s.date))].sort();
    const folds = walkForward(samples, 3, 5, { trees: 3, maxDepth: 2, learningRate: 0.2, minSamplesLeaf: 20 });
    expect(folds).toHaveLength(3);
    for (const f of folds) {
      const gap = dates.indexOf(f.testStart) - dates.indexOf(f.trainEnd);
      expect(gap).toBe(6); // 5 purged dates between the last training date and the first test date
      expect(f.trainStart).toBe(dates[0]);
    }
    // Expanding window: each fold trains on more rows than the last.
    expect((folds[1]?.trainRows ?? 0) > (folds[0]?.trainRows ?? 0)).toBe(true);
  });

  it.skipIf(!available)('trains, exports ONNX + card, registers the model and promotes it to production', async () => {
    t = await open();
    await loadDow(t.db, TICKERS, '1993-01-01', '1995-12-31');
    const outDir = mkdtempSync(path.join(tmpdir(), 'quorum-train-'));
    const r = await trainModel(t.db, { training: TRAINING, modelId: 'test-gbt', outDir, reproduce: 'test' });
    const card = readModelCard(r.cardPath);
    expect(card.sha256).toBe(createHash('sha256').update(readFileSync(r.onnxPath)).digest('hex'));
    expect(card.input.features).toEqual([...CLOSE_FEATURES]);
    expect(card.metrics?.folds).toHaveLength(2);
    expect(card.trainingWindow.tickers).toEqual(TICKERS);
    expect(card.featureSnapshotId).toMatch(/^fs_train_/);
    const snap = await t.db.query('SELECT payload FROM feature_snapshots WHERE id = $1', [card.featureSnapshotId]);
    expect(snap.rows[0]?.payload).toMatchObject({ kind: 'training', rows: r.samples });
    expect(Object.values(card.featureImportance).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);

    const proposer = await loadProposer(r.cardPath);
    expect(await proposer.predict([card.baseline])).toHaveLength(1);
    await proposer.session.release();

    // A second version (more trees) promoted to production archives the first.
    await setModelStage(t.db, 'test-gbt', card.version, 'production');
    const r2 = await trainModel(t.db, { training: { ...TRAINING, trees: 9 }, modelId: 'test-gbt', outDir: mkdtempSync(path.join(tmpdir(), 'quorum-train-')) });
    await setModelStage(t.db, 'test-gbt', r2.card.version, 'production');
    const models = await listModels(t.db);
    expect(models.find((m) => m.version === card.version)?.stage).toBe('archived');
    expect(models.find((m) => m.version === r2.card.version)?.stage).toBe('production');
    await expect(setModelStage(t.db, 'test-gbt', 'nope', 'staging')).rejects.toThrow(/not registered/);
  });
});
