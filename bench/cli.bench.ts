/**
 * CLI start-up: the wall time of `node bin/quorum.js …` as a user runs it, on a fresh data dir. Each
 * command loads only the modules it runs (cli/commands/*.ts import them on use), so `--help` costs
 * the CLI's own start and a database command adds PGlite and its tables, not the committee.
 * Median of RUNS runs each, after one warm-up run that fills tsx's transform cache and creates the
 * data dir.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../config/index.ts';
import type { Measurement } from './run.ts';

const RUNS = 5;
const run = promisify(execFile);

async function medianMs(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const bin = path.join(PROJECT_ROOT, 'bin/quorum.js');
  await run('node', [bin, ...args], { env, cwd: PROJECT_ROOT });
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await run('node', [bin, ...args], { env, cwd: PROJECT_ROOT });
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

export default async function bench(): Promise<Measurement[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'quorum-bench-cli-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(QUORUM_|DATABASE_URL$|ALPACA_|APCA_)/.test(k)) env[k] = v;
  env.QUORUM_DATA_DIR = dir;
  env.QUORUM_SETTINGS__LOGGING__LEVEL = 'warn';
  try {
    return [
      { name: 'quorum --help', value: await medianMs(['--help'], env), unit: 'ms', notes: `median of ${RUNS}` },
      { name: 'quorum positions (PGlite, migrated)', value: await medianMs(['positions'], env), unit: 'ms', notes: `median of ${RUNS}` },
      { name: 'quorum token list (PGlite, migrated)', value: await medianMs(['token', 'list'], env), unit: 'ms', notes: `median of ${RUNS}` },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
