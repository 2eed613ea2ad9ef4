import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { CLOSE_FEATURES, computeFeatureColumns } from '../../ml/features.ts';
import { predictProba, trainGbt } from '../../ml/gbt.ts';
import { gbtToOnnx, ONNX_INPUT_NAME } from '../../ml/onnx-export.ts';
import { dowBars } from './dow-fixture.ts';

const HORIZON = 5;

function samples(tickers: string[]): Array<{ date: string; x: number[]; y: number }> {
  const out: Array<{ date: string; x: number[]; y: number }> = [];
  for (const t of tickers) {
    const bars = dowBars([t]);
    const cols = computeFeatureColumns(bars);
    for (let i = 0; i + HORIZON < bars.length; i++) {
      const x = CLOSE_FEATURES.map((f) => cols.columns[f][i] ?? Number.NaN);
      if (!x.every(Number.isFinite)) continue;
      out.push({ date: bars[i]?.ts ?? '', x, y: (bars[i + HORIZON]?.close ?? 0) > (bars[i]?.close ?? 0) ? 1 : 0 });
    }
  }
  return out;
}

describe('ONNX export parity', () => {
  it('gives the same probabilities in TypeScript and onnxruntime-node (within 1e-6) on held-out real data', async () => {
    const all = samples(['AA', 'IBM', 'KO', 'MSFT']);
    const cut = '1998-01-01';
    const train = all.filter((s) => s.date < cut);
    const test = all.filter((s) => s.date >= `${cut}`);
    expect(test.length).toBeGreaterThan(1000);
    const model = trainGbt(
      train.map((s) => s.x),
      train.map((s) => s.y),
      { trees: 30, maxDepth: 3, learningRate: 0.1, minSamplesLeaf: 20 },
    );
    const session = await ort.InferenceSession.create(gbtToOnnx(model));
    const data = Float32Array.from(test.flatMap((s) => s.x));
    const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', data, [test.length, CLOSE_FEATURES.length]) });
    const probs = out.probabilities?.data as Float32Array;
    const labels = out.label?.data as BigInt64Array;
    const ts = predictProba(
      model,
      test.map((s) => s.x),
    );
    let maxDiff = 0;
    for (let i = 0; i < test.length; i++) {
      const p = ts[i] ?? 0;
      maxDiff = Math.max(maxDiff, Math.abs((probs[2 * i + 1] ?? 0) - p), Math.abs((probs[2 * i] ?? 0) - (1 - p)));
      expect(labels[i]).toBe(p > 0.5 ? 1n : 0n);
    }
    expect(maxDiff).toBeLessThan(1e-6);
    // Not a degenerate model: probabilities actually vary.
    expect(Math.max(...ts) - Math.min(...ts)).toBeGreaterThan(0.05);
    await session.release();
  });
});
