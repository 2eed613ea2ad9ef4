/**
 * A longer soak than the test's (sessions/soak.ts): 30 trading days from 1999-05-03 with one injected
 * crash a day, on the default settings (every Dow 30 ticker proposed, sessions.topN, the exit monitor
 * every five minutes in market hours), PGlite in a temp data dir, the rules baseline. Reports days/s
 * and the invariants (each must be 0, positions must equal the fills).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, loadConfig } from '../config/index.ts';
import { runSoak } from '../sessions/soak.ts';
import type { Measurement } from './run.ts';

const DAYS = 30;

export default async function bench(): Promise<Measurement[]> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'quorum-bench-soak-'));
  try {
    const config = loadConfig({ env: { QUORUM_DATA_DIR: dataDir } });
    const log = createLogger({ ...config, settings: { ...config.settings, logging: { level: 'silent' } } });
    const r = await runSoak({ config, log, from: '1999-05-03', days: DAYS, seed: 11 });
    const notes = `${r.days} days ${r.from}..${r.to}, ${r.sessions.completed}/${r.sessions.run} sessions, ${r.orders} orders, ${r.fills} fills, ${r.exits} exits, ${r.exitMonitorRuns} exit monitor runs; seconds in sessions ${r.timings.sessions.toFixed(1)}, exit monitor ${r.timings.exits.toFixed(1)}, restarts ${r.timings.restarts.toFixed(1)}`;
    return [
      { name: 'soak: simulated trading days per second', value: r.daysPerSecond, unit: 'days/s', notes },
      { name: 'soak: crashes survived', value: r.crashesSurvived, unit: 'crashes', budget: `= ${DAYS}`, ok: r.crashesSurvived === DAYS },
      { name: 'soak: double orders', value: r.invariants.doubleOrders, unit: 'orders', budget: '= 0', ok: r.invariants.doubleOrders === 0 },
      { name: 'soak: double judgements', value: r.invariants.doubleJudgements, unit: 'records', budget: '= 0', ok: r.invariants.doubleJudgements === 0 },
      {
        name: 'soak: lost or half-stored records',
        value: r.invariants.lostTotal,
        unit: 'records',
        budget: '= 0',
        ok: r.invariants.lostTotal === 0,
        notes: JSON.stringify(r.invariants.lost),
      },
      {
        name: 'soak: positions equal fills',
        value: r.invariants.positionsMatchFills ? 1 : 0,
        unit: 'bool',
        budget: '= 1',
        ok: r.invariants.positionsMatchFills,
      },
      {
        name: 'soak: errors other than injected crashes',
        value: r.errors.length,
        unit: 'errors',
        budget: '= 0',
        ok: r.errors.length === 0,
        notes: r.errors.slice(0, 3).join(' | ') || undefined,
      },
    ];
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
