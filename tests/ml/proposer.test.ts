import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { afterEach, describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/errors.ts';
import { Proposal } from '../../contracts/proposal.ts';
import { upsertBars } from '../../market/bars.ts';
import { dailyBarTs } from '../../market/time.ts';
import { ModelCard } from '../../ml/card.ts';
import { CLOSE_FEATURES, FEATURE_SET, computeFeatures } from '../../ml/features.ts';
import { encodeModel, floatTensor, node, tensorInfo } from '../../ml/onnx-export.ts';
import { expectedReturn, loadProposer, propose, proposalsAt } from '../../ml/proposer.ts';
import { explainProposalTool } from '../../tools/explain-proposal.ts';
import { DEFAULT_RULES } from '../support/risk-fixtures.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadDow } from './dow-fixture.ts';

const { onnx } = onnxProto;
const SETTINGS = { proposer: { abstainMargin: 0.02, topAttributions: 3 } };
const F = CLOSE_FEATURES.length;
/** Logistic-regression weights: momentum (ret_5, ret_20) up, RSI down. */
const WEIGHTS = CLOSE_FEATURES.map((f) => ({ ret_5: 12, ret_20: 6, rsi14: -2 })[f as string] ?? 0);
const BIAS = 1;

function card(overrides: Partial<ModelCard> & { sha256: string }): ModelCard {
  return ModelCard.parse({
    schemaVersion: 1,
    modelId: 'hand-lr',
    version: '1',
    createdAt: '2024-01-01T00:00:00Z',
    onnxFile: 'model.onnx',
    input: { name: 'features', features: [...CLOSE_FEATURES] },
    featureSet: { name: FEATURE_SET.name, version: FEATURE_SET.version },
    labels: { horizonDays: 5, threshold: 0 },
    trainingWindow: { start: '1991-01-01', end: '1995-12-31', tickers: ['AA'] },
    featureSnapshotId: null,
    baseline: CLOSE_FEATURES.map(() => 0),
    returnStats: { meanReturnPositive: 0.03, meanReturnNegative: -0.025 },
    metrics: null,
    ...overrides,
  });
}

/** Writes model bytes + card into a fresh folder; returns the card path. */
function writeModel(bytes: Uint8Array, overrides: Partial<ModelCard> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'quorum-model-'));
  writeFileSync(path.join(dir, 'model.onnx'), bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(dir, 'model-card.json'), JSON.stringify(card({ sha256, ...overrides })));
  return path.join(dir, 'model-card.json');
}

/** Hand-built logistic regression: Sigmoid(MatMul(features, W) + b), output "probabilities" [N, 1]. */
function logisticRegression(inputName = 'features', width: number = F): Uint8Array {
  return encodeModel({
    name: 'hand_lr',
    nodes: [node('MatMul', [inputName, 'W'], ['z0']), node('Add', ['z0', 'b'], ['z']), node('Sigmoid', ['z'], ['probabilities'])],
    inputs: [tensorInfo(inputName, 'float', ['N', width])],
    outputs: [tensorInfo('probabilities', 'float', ['N', 1])],
    initializers: [
      floatTensor(
        'W',
        [width, 1],
        Array.from({ length: width }, (_, i) => WEIGHTS[i] ?? 0),
      ),
      floatTensor('b', [1], [BIAS]),
    ],
  });
}

/** The same model as an onnxmltools/skl2onnx-style classifier: LinearClassifier + ZipMap (seq(map)). */
function zipMapClassifier(): Uint8Array {
  const seqMap: onnxProto.onnx.IValueInfoProto = {
    name: 'output_probability',
    type: {
      sequenceType: {
        elemType: { mapType: { keyType: onnx.TensorProto.DataType.INT64, valueType: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } } },
      },
    },
  };
  return encodeModel({
    name: 'zip',
    ml: true,
    nodes: [
      node(
        'LinearClassifier',
        ['features'],
        ['output_label', 'scores'],
        {
          coefficients: { floats: [...WEIGHTS.map((w) => -w), ...WEIGHTS] },
          intercepts: { floats: [-BIAS, BIAS] },
          classlabels_ints: { ints: [0, 1] },
          post_transform: 'NONE',
        },
        'ai.onnx.ml',
      ),
      node('Sigmoid', ['scores'], ['sig']),
      node('ZipMap', ['sig'], ['output_probability'], { classlabels_int64s: { ints: [0, 1] } }, 'ai.onnx.ml'),
    ],
    inputs: [tensorInfo('features', 'float', ['N', F])],
    outputs: [tensorInfo('output_label', 'int64', ['N']), seqMap],
  });
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

describe('proposer model loading', () => {
  it('loads a hand-built ONNX logistic regression with its card and predicts like the formula', async () => {
    const proposer = await loadProposer(writeModel(logisticRegression()));
    const row = CLOSE_FEATURES.map((_, i) => (i + 1) / 100);
    const [p] = await proposer.predict([row]);
    const z = row.reduce((s, v, i) => s + v * (WEIGHTS[i] ?? 0), BIAS);
    expect(p).toBeCloseTo(sigmoid(z), 6);
    await proposer.session.release();
  });

  it('refuses a model whose input name differs from the card, naming both', async () => {
    const err = await loadProposer(writeModel(logisticRegression('input'))).catch((e: unknown) => e);
    expect(QuorumError.is(err, 'MODEL_MISMATCH')).toBe(true);
    expect((err as Error).message).toMatch(/model inputs are \[input\], the card expects one input "features"/);
  });

  it('refuses a model whose input width differs from the card feature list', async () => {
    const err = await loadProposer(writeModel(logisticRegression('features', F - 2))).catch((e: unknown) => e);
    expect(QuorumError.is(err, 'MODEL_MISMATCH')).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`shape \\[N, ${F - 2}\\] but the card lists ${F} features`));
  });

  it("refuses a model file whose sha256 is not the card's", async () => {
    const cardPath = writeModel(logisticRegression());
    writeFileSync(path.join(path.dirname(cardPath), 'model.onnx'), logisticRegression('features', F).subarray(0, 10));
    await expect(loadProposer(cardPath)).rejects.toThrow(/sha256 of model.onnx is [0-9a-f]{64}, the card says/);
  });

  it('refuses a card trained on another feature set version or with unknown features', async () => {
    await expect(loadProposer(writeModel(logisticRegression(), { featureSet: { name: 'technical', version: 'old' } }))).rejects.toThrow(
      /feature set technical@old/,
    );
    const features = [...CLOSE_FEATURES.slice(0, F - 1), 'sentiment'];
    await expect(loadProposer(writeModel(logisticRegression(), { input: { name: 'features', features } }))).rejects.toThrow(/unknown feature\(s\) sentiment/);
  });

  it('reads probabilities from a seq(map) ZipMap output by exposing the tensor behind it', async () => {
    const proposer = await loadProposer(writeModel(zipMapClassifier()));
    expect(proposer.zipMapStripped).toBe(true);
    const row = CLOSE_FEATURES.map((_, i) => (i - 3) / 50);
    const [p] = await proposer.predict([row]);
    expect(p).toBeCloseTo(sigmoid(row.reduce((s, v, i) => s + v * (WEIGHTS[i] ?? 0), BIAS)), 6);
    await proposer.session.release();
  });

  it('loads the committed default model and its card', async () => {
    const cardPath = path.join(import.meta.dirname, '../../models/default/model-card.json');
    const proposer = await loadProposer(cardPath);
    expect(proposer.card.input.features).toEqual([...CLOSE_FEATURES]);
    expect(proposer.card.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(path.join(path.dirname(cardPath), 'model.onnx')))
        .digest('hex'),
    );
    const [p] = await proposer.predict([proposer.card.baseline]);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1);
    await proposer.session.release();
  });
});

describe.each(BACKENDS)('proposals on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });
  const TICKERS = ['AA', 'IBM', 'KO', 'MSFT'];
  const T = '1995-06-01';

  it.skipIf(!available)('attributes the default tree model exactly (TreeSHAP), stores it and shows it through explain_proposal', async () => {
    t = await open();
    await loadDow(t.db, TICKERS, '1993-01-01', '1995-12-31');
    const proposer = await loadProposer(path.join(import.meta.dirname, '../../models/default/model-card.json'));
    expect(proposer.shapUnavailable).toBeNull();
    const all = { proposer: { abstainMargin: 0, topAttributions: F } };
    const r = await propose(t.db, { asOf: dailyBarTs(T), tickers: TICKERS, proposer, settings: all });
    expect(r.proposals.length).toBe(TICKERS.length);
    for (const p of r.proposals) {
      expect(p.attributionMethod).toBe('treeshap');
      expect(p.attributions.length).toBe(F);
      // Base plus every contribution is the model's margin: σ of it is onnxruntime's probability.
      const margin = (p.attributionBase ?? Number.NaN) + p.attributions.reduce((s, a) => s + a.contribution, 0);
      expect(Math.abs(1 / (1 + Math.exp(-margin)) - p.probability)).toBeLessThan(1e-6);
    }
    expect(await proposalsAt(t.db, dailyBarTs(T))).toEqual([...r.proposals].sort((a, b) => a.ticker.localeCompare(b.ticker) || a.id.localeCompare(b.id)));
    const p0 = r.proposals[0];
    if (!p0) throw new Error('no proposal');
    const shown = await explainProposalTool.run(
      { db: t.db, runId: 'run_x', agent: 'analyst', proposal: p0, asOf: p0.asOf, maxResultChars: 10_000, riskRules: DEFAULT_RULES, sectors: {} },
      {},
    );
    expect(shown).toMatchObject({ method: 'treeshap', base: p0.attributionBase });
    await proposer.session.release();
  });

  it.skipIf(!available)('scores every ticker in one batch and stores proposals that cite the feature snapshot', async () => {
    t = await open();
    await loadDow(t.db, TICKERS, '1993-01-01', '1995-12-31');
    const proposer = await loadProposer(writeModel(logisticRegression()));
    const r = await propose(t.db, { asOf: dailyBarTs(T), tickers: [...TICKERS, 'ZZZ'], proposer, settings: SETTINGS });
    expect(r.skipped).toEqual([{ ticker: 'ZZZ', reason: expect.stringMatching(/no bars/) }]);
    expect(r.proposals.length + r.abstained.length).toBe(TICKERS.length);
    expect(r.proposals.length).toBeGreaterThan(0);
    for (const p of r.proposals) {
      Proposal.parse(p);
      expect(p.side).toBe(p.probability > 0.5 ? 'buy' : 'sell');
      expect(Math.abs(p.probability - 0.5)).toBeGreaterThan(SETTINGS.proposer.abstainMargin);
      expect(p.expectedReturn).toBeCloseTo(expectedReturn(proposer.card, p.probability), 12);
      expect(p.attributions.length).toBe(3);
      expect(p.featureSnapshotId).toBe(r.featureSnapshotId);
      expect(p.asOf).toBe('1995-06-01T20:00:00.000Z');
    }
    for (const a of r.abstained) expect(Math.abs(a.probability - 0.5)).toBeLessThanOrEqual(SETTINGS.proposer.abstainMargin);
    // Only non-zero-weight features can move a linear model's probability.
    const top = r.proposals[0]?.attributions.map((a) => a.feature) ?? [];
    expect(top.every((f) => ['ret_5', 'ret_20', 'rsi14'].includes(f))).toBe(true);
    const stored = await proposalsAt(t.db, dailyBarTs(T));
    expect(stored).toEqual([...r.proposals].sort((a, b) => a.ticker.localeCompare(b.ticker) || a.id.localeCompare(b.id)));
    const snap = await t.db.query('SELECT feature_set_version, tickers FROM feature_snapshots WHERE id = $1', [r.featureSnapshotId]);
    expect(snap.rows[0]).toMatchObject({ feature_set_version: FEATURE_SET.version, tickers: TICKERS });
    // Running again stores nothing new (deterministic ids).
    await propose(t.db, { asOf: dailyBarTs(T), tickers: TICKERS, proposer, settings: SETTINGS });
    const count = await t.db.query('SELECT count(*)::int AS n FROM proposals');
    expect(count.rows[0]?.n).toBe(r.proposals.length);
    await proposer.session.release();
  });

  it.skipIf(!available)('no look-ahead: changing every bar after t moves no feature and no proposal at t', async () => {
    t = await open();
    const bars = await loadDow(t.db, TICKERS, '1993-01-01', '1996-12-31');
    const proposer = await loadProposer(writeModel(logisticRegression()));
    const asOf = dailyBarTs(T);
    const before = await propose(t.db, { asOf, tickers: TICKERS, proposer, settings: SETTINGS });
    const featuresBefore = await computeFeatures(t.db, { asOf, tickers: TICKERS, store: false });
    const laterAsOf = dailyBarTs('1996-06-03');
    const laterBefore = await computeFeatures(t.db, { asOf: laterAsOf, tickers: TICKERS, store: false });

    // Rewrite the future: every later bar gets a different close, and new bars are appended.
    const later = bars.filter((b) => b.ts > asOf).map((b, i) => ({ ...b, close: b.close * (i % 2 ? 3.1 : 0.2) }));
    expect(later.length).toBeGreaterThan(500);
    await upsertBars(t.db, later);
    await upsertBars(
      t.db,
      TICKERS.map((ticker) => ({
        ticker,
        timeframe: '1Day',
        ts: dailyBarTs('1997-01-02'),
        open: null,
        high: null,
        low: null,
        close: 999,
        volume: null,
        source: 'test',
      })),
    );

    const featuresAfter = await computeFeatures(t.db, { asOf, tickers: TICKERS, store: false });
    expect(featuresAfter).toEqual(featuresBefore);
    const after = await propose(t.db, { asOf, tickers: TICKERS, proposer, settings: SETTINGS });
    expect(after).toEqual(before);
    // Sanity: the change is visible after t, so the test can fail.
    const laterAfter = await computeFeatures(t.db, { asOf: laterAsOf, tickers: TICKERS, store: false });
    expect(laterAfter.rows).not.toEqual(laterBefore.rows);
    await proposer.session.release();
  });

  it.skipIf(!available)('skips a ticker whose features are not defined yet (warm-up) instead of guessing', async () => {
    t = await open();
    await loadDow(t.db, ['AA'], '1995-05-01', '1995-06-30');
    const proposer = await loadProposer(writeModel(logisticRegression()));
    const r = await propose(t.db, { asOf: dailyBarTs(T), tickers: ['AA'], proposer, settings: SETTINGS });
    expect(r.proposals).toEqual([]);
    expect(r.skipped[0]?.reason).toMatch(/features undefined .*ema20_ema50/);
    await proposer.session.release();
  });
});
