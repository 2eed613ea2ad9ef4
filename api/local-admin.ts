import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { QuorumError, errorMessage } from '../contracts/errors.ts';
import { parseJson } from '../contracts/parse.ts';
import { TokenScope } from './tokens.ts';

/**
 * While `quorum serve` owns the embedded PGlite directory, no other process may open it, so
 * `quorum token create` asks the running server instead. The server writes `<dataDir>/serve.json`
 * (mode 0600, readable only by the user who started it) with its pid, its URL and a random key;
 * POST /local/tokens accepts only that key, so only that user's processes can mint tokens through it.
 */
export const ServeFile = z.object({ pid: z.number().int().positive(), url: z.url(), key: z.string().min(32) }).strict();
export type ServeFile = z.infer<typeof ServeFile>;

export const LOCAL_KEY_HEADER = 'x-quorum-local-key';

export const LocalTokenRequest = z.object({ scope: TokenScope, name: z.string().min(1).max(100) }).strict();
export const LocalTokenReply = z.object({ id: z.string(), token: z.string() }).strict();

export function serveFilePath(dataDir: string): string {
  return path.join(dataDir, 'serve.json');
}

export function newLocalKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Writes the serve file; returns a function that removes it (only if it is still this process's). */
export function writeServeFile(dataDir: string, entry: ServeFile): () => void {
  const file = serveFilePath(dataDir);
  writeFileSync(file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return () => {
    if (readServeFile(dataDir)?.pid === entry.pid) rmSync(file, { force: true });
  };
}

export function readServeFile(dataDir: string): ServeFile | null {
  let text: string;
  try {
    text = readFileSync(serveFilePath(dataDir), 'utf8');
  } catch {
    return null;
  }
  const json = parseJson(text);
  const parsed = json.ok ? ServeFile.safeParse(json.value) : null;
  return parsed?.success ? parsed.data : null;
}

export function localKeyMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Creates a token through the server at `serve` (the owner of the embedded database). */
export async function createTokenThroughServer(serve: ServeFile, req: z.infer<typeof LocalTokenRequest>): Promise<z.infer<typeof LocalTokenReply>> {
  let res: Response;
  try {
    res = await fetch(new URL('/local/tokens', serve.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', [LOCAL_KEY_HEADER]: serve.key },
      body: JSON.stringify(req),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new QuorumError(
      'DB_UNAVAILABLE',
      `quorum serve (pid ${serve.pid}) owns the database but did not answer at ${serve.url}: ${errorMessage(error)}`,
      { url: serve.url },
      { cause: error },
    );
  }
  const body: unknown = await res.json().catch(() => null);
  const parsed = LocalTokenReply.safeParse(body);
  if (!res.ok || !parsed.success) {
    throw new QuorumError('INTERNAL', `quorum serve (pid ${serve.pid}) refused to create the token: HTTP ${res.status} ${JSON.stringify(body)}`, {
      status: res.status,
    });
  }
  return parsed.data;
}
