/**
 * Days per second of the two backtest engines over the same range, universe and critic (rules): the
 * fast engine (evals/backtest/engine.ts: its own day loop and SimBroker, two books) and the
 * session-replay engine (evals/backtest/session-replay.ts: each day the exit monitor and a session
 * against the paper exchange in-process, the committee book). Both train the same walk-forward models;
 * the rate is over the whole run (training, database and exchange set-up included). CPU time is shown
 * beside the wall time because the machine is often shared.
 */
import { cpus, loadavg } from 'node:os';
import { loadConfig } from '../config/index.ts';
import { loadBundledPrices, runBacktest, type BacktestRun } from '../evals/backtest/index.ts';
import { runSessionBacktest } from '../evals/backtest/session-replay.ts';

const FROM = process.env.BENCH_ENGINES_FROM ?? '1995-01-03';
const TO = process.env.BENCH_ENGINES_TO ?? '1995-03-31';

type Row = { name: string; value: number; unit: string; notes?: string };

export default async function bench(): Promise<Row[]> {
  const config = loadConfig({ env: { ...process.env, QUORUM_SETTINGS__LOGGING__LEVEL: 'silent' } });
  const data = loadBundledPrices();
  const rows: Row[] = [];
  const engines: Array<['fast' | 'sessions', typeof runBacktest]> = [
    ['fast', runBacktest],
    ['sessions', runSessionBacktest],
  ];
  for (const [name, engine] of engines) {
    const load0 = loadavg()[0] ?? 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const run: BacktestRun = await engine({ config, data, from: FROM, to: TO, critic: 'rules', backend: 'rules' });
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const days = run.result.strategies[0]?.days.length ?? 0;
    const conditions = `${FROM}..${TO}: ${days} days, ${run.result.params.universe.length} tickers, ${run.result.params.proposalsPerDay} proposals/day, ${run.timings.committeeRuns} committee runs, ${run.models.length} model(s); ${cpus().length} cores, load ${load0.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)}`;
    rows.push(
      { name: `backtest engine ${name}: days/s (wall)`, value: days / wall, unit: 'days/s', notes: conditions },
      { name: `backtest engine ${name}: days/s of CPU`, value: days / cpuS, unit: 'days/s', notes: `${cpuS.toFixed(1)} s CPU, ${wall.toFixed(1)} s wall` },
    );
  }
  return rows;
}
