/**
 * The backtest: `quorum backtest --from 1995-01-03 --to 2000-12-29 --critic rules` on the
 * bundled Dow 30 (budget: under 10 minutes on this 2-core machine), through the same engine and
 * metrics as the command, with the time of each stage. CPU time is reported beside the wall time
 * because the machine is often shared: wall time then includes waiting for a core.
 */
import { cpus, loadavg } from 'node:os';
import { loadConfig } from '../config/index.ts';
import { computeMetrics, loadBundledPrices, runBacktest } from '../evals/backtest/index.ts';

const FROM = process.env.BENCH_BACKTEST_FROM ?? '1995-01-03';
const TO = process.env.BENCH_BACKTEST_TO ?? '2000-12-29';
const BUDGET_S = 600;

export default async function bench(): Promise<Array<{ name: string; value: number; unit: string; budget?: string; ok?: boolean; notes?: string }>> {
  const config = loadConfig({ env: { ...process.env, QUORUM_SETTINGS__LOGGING__LEVEL: 'silent' } });
  const load0 = loadavg()[0] ?? 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = await runBacktest({ config, data: loadBundledPrices(), from: FROM, to: TO, critic: 'rules', backend: 'rules' });
  computeMetrics(run.result, { seed: Math.max(0, config.models.llm.seed) });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const conditions = `${FROM}..${TO}, ${run.result.params.universe.length} tickers, ${run.result.params.proposalsPerDay} proposals/day, ${run.models.length} models; ${cpus().length} cores, load ${load0.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)}`;
  const t = run.timings;
  return [
    {
      name: `backtest rules ${FROM}..${TO}, wall (engine + metrics)`,
      value: wall,
      unit: 's',
      budget: `< ${BUDGET_S} s`,
      ok: wall < BUDGET_S,
      notes: conditions,
    },
    { name: 'backtest rules, CPU time of the process', value: cpuS, unit: 's', notes: 'user + system; ~ the wall time on an idle machine' },
    { name: 'backtest: walk-forward training (all models)', value: t.trainMs / 1000, unit: 's', notes: `${run.models.length} models` },
    { name: 'backtest: proposer (features + ONNX), all days', value: t.proposeMs / 1000, unit: 's' },
    {
      name: 'backtest: committee per run (rules, in-memory checkpointer)',
      value: t.committeeRuns ? t.committeeMs / t.committeeRuns : 0,
      unit: 'ms',
      notes: `${t.committeeRuns} runs`,
    },
  ];
}
