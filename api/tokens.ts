import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Queryable } from '../db/index.ts';

export const TokenScope = z.enum(['read', 'control']);
export type TokenScope = z.infer<typeof TokenScope>;

/** What a verified bearer token grants. `control` includes `read`. */
export interface Principal {
  tokenId: string;
  name: string;
  scope: TokenScope;
}

/** Tokens are stored only as sha256 hashes; the plaintext is shown once at creation. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Creates a token: returns the plaintext (never stored) and its id. */
export async function createApiToken(q: Queryable, name: string, scope: TokenScope): Promise<{ id: string; token: string }> {
  const token = `qrm_${randomBytes(24).toString('base64url')}`;
  const id = `tok_${randomBytes(6).toString('hex')}`;
  await q.query('INSERT INTO api_tokens (id, name, scope, token_hash) VALUES ($1, $2, $3, $4)', [id, name, scope, hashToken(token)]);
  return { id, token };
}

const TokenRow = z.object({ id: z.string(), name: z.string(), scope: TokenScope });

/** The principal of a live (not revoked) token, or null. */
export async function findToken(q: Queryable, token: string): Promise<Principal | null> {
  const res = await q.query('SELECT id, name, scope FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL', [hashToken(token)]);
  const row = res.rows[0];
  if (!row) return null;
  const r = TokenRow.parse(row);
  return { tokenId: r.id, name: r.name, scope: r.scope };
}

/** Revokes a token by id; true when one was revoked. */
export async function revokeApiToken(q: Queryable, id: string): Promise<boolean> {
  const res = await q.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
  return res.rowCount > 0;
}
