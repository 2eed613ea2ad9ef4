import type { MiddlewareHandler } from 'hono';
import type { HTTPException } from 'hono/http-exception';
import type { Db } from '../db/index.ts';
import { apiError } from './errors.ts';
import { findToken, hashToken, type Principal, type TokenScope } from './tokens.ts';

export type AuthEnv = { Variables: { principal: Principal } };

/** How long a verified token is trusted without a database read (revocation takes effect within it). */
export const TOKEN_CACHE_MS = 10_000;

function deny(status: 401 | 403, message: string): HTTPException {
  return status === 401 ? apiError(401, 'UNAUTHORIZED', message, { 'www-authenticate': 'Bearer' }) : apiError(403, 'FORBIDDEN', message);
}

/**
 * Bearer-token authentication. Tokens are looked up by hash; a small cache keeps hot read paths off
 * the database. `bootstrapToken` (QUORUM_API_TOKEN) grants control when set.
 */
export function bearerAuth(db: Db, bootstrapToken: string | null): MiddlewareHandler<AuthEnv> {
  const cache = new Map<string, { principal: Principal | null; until: number }>();
  const bootstrapHash = bootstrapToken ? hashToken(bootstrapToken) : null;
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw deny(401, 'missing bearer token (Authorization: Bearer <token>)');
    const hash = hashToken(match[1]);
    let principal: Principal | null;
    if (bootstrapHash && hash === bootstrapHash) {
      principal = { tokenId: 'bootstrap', name: 'QUORUM_API_TOKEN', scope: 'control' };
    } else {
      const hit = cache.get(hash);
      const now = performance.now();
      if (hit && hit.until > now) {
        principal = hit.principal;
      } else {
        principal = await findToken(db, match[1]);
        if (cache.size > 10_000) cache.clear();
        cache.set(hash, { principal, until: now + TOKEN_CACHE_MS });
      }
    }
    if (!principal) throw deny(401, 'invalid or revoked token');
    c.set('principal', principal);
    await next();
  };
}

/** Requires a scope; `control` tokens may also read. */
export function requireScope(scope: TokenScope): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const p = c.get('principal');
    if (scope === 'control' && p.scope !== 'control') throw deny(403, `this route needs a token with the control scope (token "${p.name}" has ${p.scope})`);
    await next();
  };
}
