/**
 * Features for 100 tickers x 5,000 bars (budget < 2 s). The bars are SYNTHETIC random walks with
 * OHLCV (the bundled real data has 30 tickers x 2,529 bars), so every feature incl. ATR/ADX/volume z runs.
 */
import { cpus, loadavg } from 'node:os';
import type { Bar } from '../market/bars.ts';
import { FEATURE_NAMES, computeFeatureColumns } from '../ml/features.ts';

const TICKERS = 100;
const BARS = 5_000;

function randomWalk(seed: number): Bar[] {
  let s = seed;
  const rnd = (): number => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  let close = 50 + rnd() * 100;
  const start = Date.UTC(2000, 0, 3);
  return Array.from({ length: BARS }, (_, i) => {
    const open = close;
    close = Math.max(1, close * (1 + (rnd() - 0.5) * 0.04));
    const high = Math.max(open, close) * (1 + rnd() * 0.01);
    const low = Math.min(open, close) * (1 - rnd() * 0.01);
    return {
      ticker: `T${seed}`,
      timeframe: '1Day',
      ts: new Date(start + i * 86_400_000).toISOString(),
      open,
      high,
      low,
      close,
      volume: 1e6 * (0.5 + rnd()),
      source: 'synthetic',
    };
  });
}

export default async function bench(): Promise<Array<{ name: string; value: number; unit: string; budget?: string; ok?: boolean; notes?: string }>> {
  const series = Array.from({ length: TICKERS }, (_, i) => randomWalk(i + 1));
  computeFeatureColumns(series[0] ?? []); // warm-up (JIT)
  const wall: number[] = [];
  const cpu: number[] = [];
  let checksum = 0;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const bars of series) {
      const cols = computeFeatureColumns(bars);
      checksum += cols.columns.adx14[BARS - 1] ?? 0;
    }
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    wall.push(performance.now() - t0);
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1] ?? Number.NaN;
  const load = loadavg()[0]?.toFixed(1) ?? '?';
  const notes = `${FEATURE_NAMES.length} features incl. OHLCV ones; synthetic random-walk bars; load average ${load} on ${cpus().length} cores; checksum ${checksum.toFixed(3)}`;
  return [
    { name: `features ${TICKERS}x${BARS} bars, CPU time (median of 3)`, value: med(cpu), unit: 'ms', budget: '< 2000 ms', ok: med(cpu) < 2000, notes },
    {
      name: `features ${TICKERS}x${BARS} bars, wall time (median of 3)`,
      value: med(wall),
      unit: 'ms',
      notes: 'wall time includes waiting for a core on a shared machine',
    },
  ];
}
