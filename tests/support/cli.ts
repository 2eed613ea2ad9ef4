/**
 * Runs `node bin/quorum.js …` as a user does: its own process, in the project directory, with an
 * environment free of the caller's Quorum settings and secrets. One-shot commands through
 * `runQuorum`, long-running ones (`serve`, `paper-exchange`, `worker`) through `spawnQuorum`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config/index.ts';
import { parseJson } from '../../contracts/index.ts';

export const QUORUM_BIN = path.join(PROJECT_ROOT, 'bin/quorum.js');

/** Nothing listens on the discard port: Ollama is "not running", and the rules baseline judges. */
export const NO_OLLAMA_URL = 'http://127.0.0.1:9';

export interface CliRun {
  args: readonly string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every argument list run through this module, in order (for coverage checks). */
export const ranCommands: string[][] = [];

// Each process spends seconds of CPU loading the CLI: on a small machine, too many at once only thrash.
let slots = Number.POSITIVE_INFINITY;
const waiting: (() => void)[] = [];
/** At most `n` one-shot commands (`runQuorum`) run at once in this test file; the rest queue. */
export function limitConcurrentRuns(n: number): void {
  slots = n;
}
async function acquireSlot(): Promise<() => void> {
  if (slots <= 0) await new Promise<void>((resolve) => waiting.push(resolve));
  slots -= 1;
  return () => {
    slots += 1;
    waiting.shift()?.();
  };
}

/**
 * The environment of a user with a fresh data dir: the caller's QUORUM_*, DATABASE_URL, ALPACA_* and
 * APCA_* are dropped, QUORUM_DATA_DIR is `dataDir`, Ollama is unreachable, logs only warnings, TERM is dumb.
 * `extra` entries set to undefined are removed.
 */
export function cliEnv(dataDir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(QUORUM_|DATABASE_URL$|ALPACA_|APCA_)/.test(k)) env[k] = v;
  }
  env.QUORUM_DATA_DIR = dataDir;
  env.QUORUM_MODELS__OLLAMA__BASE_URL = NO_OLLAMA_URL;
  env.QUORUM_SETTINGS__LOGGING__LEVEL = 'warn';
  // Output goes to a pipe, not a terminal.
  env.TERM = 'dumb';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function start(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  ranCommands.push([...args]);
  return spawn(process.execPath, [QUORUM_BIN, ...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs one command to its end (killed after `timeoutMs`). */
export async function runQuorum(args: readonly string[], env: NodeJS.ProcessEnv, options: { timeoutMs?: number } = {}): Promise<CliRun> {
  const release = await acquireSlot();
  try {
    return await runToEnd(args, env, options.timeoutMs ?? 120_000);
  } finally {
    release();
  }
}

function runToEnd(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CliRun> {
  const child = start(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      // Say so in stderr, so a failing assertion shows why the process ended.
      if (timedOut) stderr += `\n[test harness: killed after ${timeoutMs} ms]\n`;
      resolve({ args, code, signal, stdout, stderr });
    });
  });
}

/** A run's stdout as JSON; fails (showing stderr) unless it exited 0 with valid JSON. */
export function jsonOf(run: CliRun): unknown {
  if (run.code !== 0) throw new Error(`quorum ${run.args.join(' ')} exited ${String(run.code)}: ${run.stderr}`);
  const parsed = parseJson(run.stdout);
  if (!parsed.ok) throw new Error(`quorum ${run.args.join(' ')}: ${parsed.error}: ${run.stdout.slice(0, 300)}`);
  return parsed.value;
}

export interface LongRunning {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in the stream; rejects if the process exits first or on timeout. */
  waitFor(pattern: RegExp, options?: { stream?: 'stdout' | 'stderr'; timeoutMs?: number }): Promise<RegExpMatchArray>;
  /** Sends `signal` and resolves with how the process ended (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running command (a server, a worker). */
export function spawnQuorum(args: readonly string[], env: NodeJS.ProcessEnv): LongRunning {
  const child = start(args, env);
  const out = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout?.setEncoding('utf8').on('data', (d: string) => ((out.stdout += d), notify()));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => ((out.stderr += d), notify()));
  let ended: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      ended = { code, signal };
      notify();
      resolve(ended);
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start quorum ${args.join(' ')}`);
  return {
    pid,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    exited,
    waitFor(pattern, options = {}) {
      const stream = options.stream ?? 'stderr';
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = out[stream].match(pattern);
          if (m) done(() => resolve(m));
          else if (ended)
            done(() =>
              reject(new Error(`quorum ${args.join(' ')} exited (${JSON.stringify(ended)}) before ${String(pattern)}:\n${out.stdout}\n${out.stderr}`)),
            );
        };
        const timer = setTimeout(
          () =>
            done(() =>
              reject(
                new Error(
                  `quorum ${args.join(' ')}: no ${String(pattern)} on ${stream} within ${options.timeoutMs ?? 60_000} ms:\n${out.stdout}\n${out.stderr}`,
                ),
              ),
            ),
          options.timeoutMs ?? 60_000,
        );
        const done = (fn: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (!ended) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A TCP port nothing listens on right now (taken, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The start of an ANSI escape sequence (a colour). */
export const ANSI_ESCAPE = '\u001b[';
