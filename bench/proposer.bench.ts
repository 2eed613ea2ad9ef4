/**
 * One onnxruntime batch of 100 tickers through the committed default model (budget p99 < 2 ms).
 * Rows are the card's training medians plus SYNTHETIC noise (the model's speed does not depend on values).
 */
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { loadProposer } from '../ml/proposer.ts';

const TICKERS = 100;
const RUNS = 2_000;

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export default async function bench(): Promise<Array<{ name: string; value: number; unit: string; budget?: string; ok?: boolean; notes?: string }>> {
  const proposer = await loadProposer(path.join(import.meta.dirname, '../models/default/model-card.json'));
  const base = proposer.card.baseline;
  let s = 42;
  const rnd = (): number => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647 - 0.5;
  };
  const rows = Array.from({ length: TICKERS }, () => base.map((v) => v + rnd() * (Math.abs(v) + 0.01)));
  const withOcclusion = [...rows, ...rows.flatMap((r) => r.map((_, j) => r.map((v, k) => (k === j ? (base[k] ?? 0) : v))))];
  const cpuTimes: number[] = [];
  const time = async (batch: number[][]): Promise<number[]> => {
    for (let i = 0; i < 50; i++) await proposer.predict(batch);
    const out: number[] = [];
    cpuTimes.length = 0;
    for (let i = 0; i < RUNS; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await proposer.predict(batch);
      out.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpuTimes.push((c.user + c.system) / 1000);
    }
    cpuTimes.sort((a, b) => a - b);
    return out.sort((a, b) => a - b);
  };
  const plain = await time(rows);
  const plainCpu = [...cpuTimes];
  const occl = await time(withOcclusion);
  await proposer.session.release();
  const trees = proposer.card.hyperparameters.trees;
  const notes = `load average ${loadavg()[0]?.toFixed(1) ?? '?'} on ${cpus().length} cores; default model ${proposer.card.modelId}@${proposer.card.version} (${String(trees)} trees), ${RUNS} runs, intra-op threads 1`;
  return [
    { name: `proposer batch ${TICKERS} tickers p50`, value: percentile(plain, 0.5), unit: 'ms', notes },
    {
      name: `proposer batch ${TICKERS} tickers p99 (wall)`,
      value: percentile(plain, 0.99),
      unit: 'ms',
      budget: '< 2 ms',
      ok: percentile(plain, 0.99) < 2,
      notes,
    },
    {
      name: `proposer batch ${TICKERS} tickers p99 (CPU time)`,
      value: percentile(plainCpu, 0.99),
      unit: 'ms',
      notes: 'CPU time of the run; wall p99 on a loaded machine includes waiting for a core',
    },
    {
      name: `proposer batch ${TICKERS} tickers + occlusion rows p99`,
      value: percentile(occl, 0.99),
      unit: 'ms',
      notes: `${withOcclusion.length} rows: the batch propose() runs (scores + one occluded row per feature)`,
    },
  ];
}
