import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { QuorumError } from '../contracts/errors.ts';
import type { Db } from '../db/index.ts';
import { canonicalUrl } from './canonical.ts';
import type { Embedder } from './embeddings.ts';
import { parseJson } from '../contracts/parse.ts';
import { forEachJsonLine } from './jsonl.ts';
import { parseReutersXml } from './reuters.ts';
import { JsonlNewsLine, type ImportResult, type NewsDraft, type RejectedLine } from './schema.ts';
import { insertPrepared, prepareNews } from './store.ts';
import { isTweetShaped, parseTweetsJsonl } from './tweets.ts';
import type { CompanyMatcher } from './tickers.ts';

/** The source recorded for a JSONL line without one. */
export const DEFAULT_JSONL_SOURCE = 'jsonl';
/** Rejected lines listed in an error message (all of them are in its details). */
const MAX_LISTED = 10;

/**
 * Items of a JSONL file, one `{published_at, title, body, url, tickers?, source}` per line. A
 * line that is not JSON, has no valid `published_at`, or whose `url` is not an absolute http(s)
 * URL is rejected with its 1-based line number; blank lines are ignored.
 */
export function parseJsonl(text: string, file: string): { drafts: NewsDraft[]; rejected: RejectedLine[] } {
  const drafts: NewsDraft[] = [];
  const rejected: RejectedLine[] = [];
  forEachJsonLine(text, file, JsonlNewsLine, rejected, (v, line) => {
    if (canonicalUrl(v.url) === null) {
      rejected.push({ file, line, error: `url: not an absolute http(s) URL: "${v.url.slice(0, 200)}"` });
      return;
    }
    drafts.push({
      source: v.source ?? DEFAULT_JSONL_SOURCE,
      guid: null,
      url: v.url.trim(),
      title: v.title,
      body: v.body ?? '',
      publishedAt: new Date(v.published_at),
      tickers: v.tickers ?? [],
      metadata: { file },
    });
  });
  return { drafts, rejected };
}

/** A file as reported: relative to the working directory when inside it, else absolute. */
function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(file);
}

const IMPORTABLE = new Set(['.jsonl', '.xml', '.sgm']);

/** The extension that picks a file's parser: `.jsonl` for `x.jsonl.gz` too. */
function kindOf(file: string): string {
  const lower = file.toLowerCase();
  return path.extname(lower.endsWith('.gz') ? lower.slice(0, -3) : lower);
}

function isImportable(file: string): boolean {
  const lower = file.toLowerCase();
  return IMPORTABLE.has(kindOf(file)) && (!lower.endsWith('.gz') || kindOf(file) === '.jsonl');
}

/** A file's text; `.gz` files are gunzipped. */
function readText(file: string): string {
  try {
    const buf = readFileSync(file);
    return file.toLowerCase().endsWith('.gz') ? gunzipSync(buf).toString('utf8') : buf.toString('utf8');
  } catch (error) {
    throw new QuorumError('INPUT_INVALID', `path: cannot read ${file}: ${(error as Error).message}`, { path: file }, { cause: error });
  }
}

/** The first non-blank line of a JSONL text, parsed, or undefined. */
function firstJson(text: string): unknown {
  const line = text.split(/\r?\n/, 50).find((l) => l.trim() !== '');
  if (line === undefined) return undefined;
  const json = parseJson(line);
  return json.ok ? json.value : undefined;
}

/** The importable files under `target` (a file, or a directory searched recursively), sorted. */
export function importFiles(target: string): string[] {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new QuorumError('INPUT_INVALID', `path: no such file or directory: ${target}`, { path: target });
  }
  if (st.isFile()) {
    if (!isImportable(target)) {
      throw new QuorumError('INPUT_INVALID', `path: ${target} is neither .jsonl (.jsonl.gz) nor Reuters .xml/.sgm`, { path: target });
    }
    return [target];
  }
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (isImportable(name)) out.push(full);
    }
  };
  walk(target);
  if (out.length === 0) throw new QuorumError('INPUT_INVALID', `path: no .jsonl or .xml files under ${target}`, { path: target });
  return out;
}

export interface ImportOptions {
  matcher: CompanyMatcher;
  /** Store the valid items even when some lines were rejected (default false: nothing is stored). */
  skipInvalid?: boolean;
  /** Keep tweets the spam rule would drop (default false: dropped and counted in `spam`). */
  keepSpam?: boolean;
  /** Progress of the embedding step (the slow one). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Imports a JSONL file, a Reuters XML file, or a directory of them, as ONE transaction. Any
 * rejected line aborts the import with INPUT_INVALID naming each file and line, and nothing is
 * stored, unless `skipInvalid` is set; then the valid items are stored and the rejects reported.
 * Re-importing adds nothing (dedupe by canonical URL, guid and content hash).
 */
export async function importNews(db: Db, embedder: Embedder, target: string, options: ImportOptions): Promise<ImportResult> {
  const files = importFiles(target);
  const drafts: NewsDraft[] = [];
  const rejected: RejectedLine[] = [];
  const spam: Record<string, number> = {};
  let spamCount = 0;
  let merged = 0;
  for (const file of files) {
    const text = readText(file);
    const rel = displayPath(file);
    if (kindOf(file) === '.jsonl' && isTweetShaped(firstJson(text))) {
      const parsed = parseTweetsJsonl(text, rel, { keepSpam: options.keepSpam ?? false });
      drafts.push(...parsed.drafts);
      rejected.push(...parsed.rejected);
      merged += parsed.merged;
      for (const [rule, n] of Object.entries(parsed.spam)) {
        spam[rule] = (spam[rule] ?? 0) + n;
        spamCount += n;
      }
      continue;
    }
    const parsed = kindOf(file) === '.jsonl' ? parseJsonl(text, rel) : parseReutersXml(text, rel);
    drafts.push(...parsed.drafts);
    rejected.push(...parsed.rejected);
  }
  if (rejected.length > 0 && !options.skipInvalid) {
    const listed = rejected.slice(0, MAX_LISTED).map((r) => `${r.file}:${r.line}: ${r.error}`);
    const more = rejected.length > MAX_LISTED ? `; and ${rejected.length - MAX_LISTED} more` : '';
    throw new QuorumError(
      'INPUT_INVALID',
      `${rejected.length} invalid item(s), nothing stored (use --skip-invalid to store the ${drafts.length} valid ones): ${listed.join('; ')}${more}`,
      { rejected },
    );
  }
  const { prepared, duplicates } = await prepareNews(db, embedder, drafts, options.matcher, options.onProgress);
  const stored = await db.transaction((tx) => insertPrepared(tx, prepared));
  return {
    files: files.map(displayPath),
    read: drafts.length + rejected.length + spamCount + merged,
    inserted: stored.inserted,
    duplicates: duplicates + stored.duplicates + merged,
    rejected,
    spam,
  };
}
