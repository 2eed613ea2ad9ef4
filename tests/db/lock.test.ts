/**
 * db/lock.ts: one process owns an embedded PGlite directory through `<dir>.lock`. In-process, with
 * real other processes where a live or dead owner is needed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../config/index.ts';
import { QuorumError, parseJson } from '../../contracts/index.ts';
import { openPglite } from '../../db/index.ts';
import { DirLockOwner, acquireDirLock, lockPath, readDirLock, type DirLock } from '../../db/lock.ts';

const root = mkdtempSync(path.join(tmpdir(), 'quorum-lock-'));
let n = 0;
const freshDir = (): string => path.join(root, `db${(n += 1)}`);
const held: DirLock[] = [];
const take = (dir: string): DirLock => {
  const lock = acquireDirLock(dir);
  held.push(lock);
  return lock;
};
afterEach(() => {
  for (const l of held.splice(0)) l.release();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function owner(dir: string): DirLockOwner {
  const parsed = parseJson(readFileSync(lockPath(dir), 'utf8'));
  if (!parsed.ok) throw new Error(parsed.error);
  return DirLockOwner.parse(parsed.value);
}

function caught(fn: () => unknown): QuorumError {
  try {
    fn();
  } catch (error) {
    if (QuorumError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a QuorumError');
}

/** Another process that takes the lock on `dir` (through tsx, as the CLI does) and then waits. */
async function otherOwner(dir: string): Promise<{ pid: number; kill(signal: NodeJS.Signals): Promise<void>; exit(): Promise<number | null> }> {
  const script = [
    `import { acquireDirLock } from ${JSON.stringify(path.join(PROJECT_ROOT, 'db/lock.ts'))};`,
    `acquireDirLock(${JSON.stringify(dir)});`,
    "process.stdout.write('locked\\n');",
    "process.stdin.on('data', () => process.exit(0));",
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    void closed.then((code) => reject(new Error(`lock holder exited ${String(code)} before taking the lock`)));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  return {
    pid,
    async kill(signal) {
      child.kill(signal);
      await closed;
    },
    exit() {
      child.stdin.write('exit\n');
      return closed;
    },
  };
}

describe('acquireDirLock', () => {
  it('writes <dir>.lock (0600) naming this process, its command and when; release removes it', () => {
    const dir = freshDir();
    const lock = take(dir);
    expect(lock.path).toBe(`${dir}.lock`);
    expect(statSync(lock.path).mode & 0o777).toBe(0o600);
    const o = owner(dir);
    expect(o.pid).toBe(process.pid);
    expect(o.command.length).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(o.startedAt))).toBe(false);
    expect(readDirLock(dir)).toEqual(o);

    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    expect(readDirLock(dir)).toBeNull();
    lock.release(); // a second release is a no-op
    // Released, the directory can be taken again.
    expect(take(dir).path).toBe(lock.path);
  });

  it('refuses a second acquire in the same process with DB_LOCKED', () => {
    const dir = freshDir();
    take(dir);
    const error = caught(() => acquireDirLock(dir));
    expect(error.code).toBe('DB_LOCKED');
    expect(error.message).toContain(`at ${dir} is already open in this process (pid ${process.pid})`);
    expect(owner(dir).pid).toBe(process.pid); // the lock is untouched
  });

  it('refuses a directory a live process holds with DB_LOCKED naming its pid and command, and the way out', async () => {
    const dir = freshDir();
    const other = await otherOwner(dir);
    try {
      expect(owner(dir).pid).toBe(other.pid);
      const error = caught(() => acquireDirLock(dir, 'the test database'));
      expect(error.code).toBe('DB_LOCKED');
      expect(error.message).toMatch(
        new RegExp(`^the test database at ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by pid ${other.pid} \\(.+, since \\d{4}-\\d{2}-\\d{2}T`),
      );
      expect(error.message).toContain('stop that process first, or point every process at one PostgreSQL database (DATABASE_URL)');
      expect(error.details).toMatchObject({ dir, pid: other.pid });
    } finally {
      // A normal exit removes the lock (the exit hook).
      expect(await other.exit()).toBe(0);
    }
    expect(existsSync(lockPath(dir))).toBe(false);
  });

  it('takes over the lock of a process that died without releasing it (SIGKILL)', async () => {
    const dir = freshDir();
    const other = await otherOwner(dir);
    await other.kill('SIGKILL');
    expect(owner(dir).pid).toBe(other.pid); // left behind
    expect(readDirLock(dir)).toBeNull(); // but stale
    take(dir);
    expect(owner(dir).pid).toBe(process.pid);
  });

  it('takes over an unreadable or foreign-shaped lock file', () => {
    for (const junk of ['', 'not json', JSON.stringify({ pid: 'x' })]) {
      const dir = freshDir();
      writeFileSync(lockPath(dir), junk);
      expect(readDirLock(dir)).toBeNull();
      const lock = take(dir);
      expect(owner(dir).pid).toBe(process.pid);
      lock.release();
    }
  });

  it('release leaves a lock file another process has taken over since', () => {
    const dir = freshDir();
    const lock = take(dir);
    const foreign = { pid: process.ppid, command: 'quorum serve', startedAt: new Date().toISOString() };
    writeFileSync(lockPath(dir), JSON.stringify(foreign));
    lock.release();
    expect(owner(dir)).toEqual(foreign);
    rmSync(lockPath(dir));
  });
});

describe('openPglite on a directory', () => {
  it('holds the lock while open: a second open in this process gets DB_LOCKED; close releases it', async () => {
    const dir = freshDir();
    const db = await openPglite(dir);
    try {
      expect(owner(dir).pid).toBe(process.pid);
      const error = await openPglite(dir).catch((e: unknown) => e);
      expect(QuorumError.is(error, 'DB_LOCKED')).toBe(true);
      expect((error as Error).message).toContain(`is already open in this process (pid ${process.pid})`);
    } finally {
      await db.close();
    }
    expect(existsSync(lockPath(dir))).toBe(false);
    const again = await openPglite(dir);
    await again.close();
  }, 60_000);
});
