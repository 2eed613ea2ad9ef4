/**
 * A new PGlite database starts from a cached image of an empty cluster instead of running initdb.
 * initdb in WebAssembly costs ~9 s of CPU for a data directory (~4 s in memory); unpacking the image
 * costs ~2 s. The image is what initdb wrote, before anything of Quorum's: migrations still run on
 * the copy as on any new database. It is written by the first initdb of this PGlite build and kept
 * under node_modules/.cache/quorum/, named by the PGlite and pgvector versions, so an upgrade of
 * either makes a new one. Where the cache cannot be written (a read-only install), every new
 * database runs initdb, as PGlite does by itself.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseJson } from '../contracts/parse.ts';

const require = createRequire(import.meta.url);

/** An installed package's folder (its package.json is not among its exports). */
function packageDir(pkg: string): string {
  const entry = require.resolve(pkg);
  const marker = `${path.sep}node_modules${path.sep}${pkg.split('/').join(path.sep)}${path.sep}`;
  const at = entry.lastIndexOf(marker);
  return at < 0 ? path.dirname(entry) : entry.slice(0, at + marker.length - 1);
}

function versionOf(pkg: string): string {
  const file = path.join(packageDir(pkg), 'package.json');
  const read = parseJson(readFileSync(file, 'utf8'));
  const parsed = read.ok ? read.value : null;
  const version = typeof parsed === 'object' && parsed !== null && 'version' in parsed ? parsed.version : null;
  return typeof version === 'string' ? version : 'unknown';
}

/** node_modules/.cache/quorum, beside the installed PGlite package. */
export function defaultTemplateDir(): string {
  return path.join(packageDir('@electric-sql/pglite'), '..', '..', '.cache', 'quorum');
}

/** The image's file name: one per PGlite and pgvector build. */
export function templateFileName(): string {
  return `pglite-${versionOf('@electric-sql/pglite')}-pgvector-${versionOf('@electric-sql/pglite-pgvector')}-initdb.tar`;
}

/** Whether `dir` (null: in memory) is a new database, one PGlite would initdb. */
export function isNewCluster(dir: string | null): boolean {
  return dir === null || !existsSync(path.join(dir, 'PG_VERSION'));
}

/** The cached image, or null when there is none yet (or it cannot be read). */
export function readTemplate(templateDir: string): Blob | null {
  try {
    return new Blob([readFileSync(path.join(templateDir, templateFileName()))]);
  } catch {
    return null;
  }
}

/**
 * Keeps `image` (an empty cluster's dump) as the template. Written to a temporary name and renamed,
 * so a process reading it at the same time sees the whole file or none; a failure to write is not an
 * error (the next new database runs initdb again).
 */
export function writeTemplate(templateDir: string, image: Uint8Array): boolean {
  const target = path.join(templateDir, templateFileName());
  const partial = `${target}.${process.pid}.partial`;
  try {
    mkdirSync(templateDir, { recursive: true });
    writeFileSync(partial, image);
    renameSync(partial, target);
    return true;
  } catch {
    rmSync(partial, { force: true });
    return false;
  }
}
