import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { QuorumError } from '../contracts/errors.ts';
import { parseJson, parseWith } from '../contracts/parse.ts';
import type { Db } from '../db/index.ts';
import { canonicalUrl } from './canonical.ts';
import type { Embedder } from './embeddings.ts';
import { parseReutersXml } from './reuters.ts';
import { JsonlNewsLine, type ImportResult, type NewsDraft, type RejectedLine } from './schema.ts';
import { insertPrepared, prepareNews } from './store.ts';
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
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const json = parseJson(raw);
    if (!json.ok) {
      rejected.push({ file, line, error: json.error });
      return;
    }
    const parsed = parseWith(JsonlNewsLine, json.value);
    if (!parsed.ok) {
      rejected.push({ file, line, error: parsed.error });
      return;
    }
    const v = parsed.value;
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

/** The importable files under `target` (a file, or a directory searched recursively), sorted. */
export function importFiles(target: string): string[] {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new QuorumError('INPUT_INVALID', `path: no such file or directory: ${target}`, { path: target });
  }
  if (st.isFile()) {
    if (!IMPORTABLE.has(path.extname(target).toLowerCase())) {
      throw new QuorumError('INPUT_INVALID', `path: ${target} is neither .jsonl nor Reuters .xml/.sgm`, { path: target });
    }
    return [target];
  }
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (IMPORTABLE.has(path.extname(name).toLowerCase())) out.push(full);
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
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const rel = displayPath(file);
    const parsed = path.extname(file).toLowerCase() === '.jsonl' ? parseJsonl(text, rel) : parseReutersXml(text, rel);
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
    read: drafts.length + rejected.length,
    inserted: stored.inserted,
    duplicates: duplicates + stored.duplicates,
    rejected,
  };
}
