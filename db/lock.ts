import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import { parseJson } from '../contracts/parse.ts';

/**
 * One process owns an embedded PGlite directory: two processes writing one directory each keep their
 * own copy of it in memory and overwrite each other's work. The owner writes `<dir>.lock` (created
 * exclusively) with its pid; a lock whose pid is gone is stale and taken over.
 */
export const DirLockOwner = z.object({
  pid: z.number().int().positive(),
  command: z.string(),
  startedAt: z.string(),
});
export type DirLockOwner = z.infer<typeof DirLockOwner>;

export interface DirLock {
  readonly path: string;
  release(): void;
}

export function lockPath(dir: string): string {
  return `${dir}.lock`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live owner of `dir`, or null when nobody (or only a dead process) holds it. */
export function readDirLock(dir: string): DirLockOwner | null {
  let text: string;
  try {
    text = readFileSync(lockPath(dir), 'utf8');
  } catch {
    return null;
  }
  const parsed = DirLockOwner.safeParse(safeJson(text));
  if (!parsed.success) return null;
  return alive(parsed.data.pid) ? parsed.data : null;
}

function safeJson(text: string): unknown {
  const parsed = parseJson(text);
  return parsed.ok ? parsed.value : null;
}

const held = new Map<string, DirLock>();

/** The command line this process was started with, as a user would recognise it. */
export function currentCommand(): string {
  const args = process.argv.slice(2).join(' ');
  return args ? `quorum ${args}` : 'node';
}

/** Takes the lock on `dir`, or throws DB_LOCKED naming the owner and what to do. */
export function acquireDirLock(dir: string, what = 'the embedded database'): DirLock {
  const file = lockPath(dir);
  if (held.has(file)) {
    throw new QuorumError('DB_LOCKED', `${what} at ${dir} is already open in this process (pid ${process.pid}); close it first`, { dir, pid: process.pid });
  }
  for (let attempt = 0; attempt < 2; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readDirLock(dir);
      if (owner) throw lockedError(dir, owner, what);
      // A stale lock (its process is gone, or the file is unreadable): take it over.
      rmSync(file, { force: true });
      continue;
    }
    const owner: DirLockOwner = { pid: process.pid, command: currentCommand(), startedAt: new Date().toISOString() };
    writeFileSync(fd, `${JSON.stringify(owner)}\n`);
    closeSync(fd);
    const onExit = (): void => release();
    const release = (): void => {
      if (held.get(file) !== lock) return;
      held.delete(file);
      process.off('exit', onExit);
      const current = safeJson(readSafely(file));
      if (DirLockOwner.safeParse(current).data?.pid === process.pid) rmSync(file, { force: true });
    };
    const lock: DirLock = { path: file, release };
    held.set(file, lock);
    process.on('exit', onExit);
    return lock;
  }
  throw new QuorumError('DB_LOCKED', `could not take the lock ${file}`, { dir });
}

function readSafely(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function lockedError(dir: string, owner: DirLockOwner, what: string): QuorumError {
  return new QuorumError(
    'DB_LOCKED',
    `${what} at ${dir} is in use by pid ${owner.pid} (${owner.command}, since ${owner.startedAt}). ` +
      'The embedded PGlite database serves one process at a time: stop that process first, ' +
      'or point every process at one PostgreSQL database (DATABASE_URL) to run them side by side.',
    { dir, pid: owner.pid, command: owner.command },
  );
}
