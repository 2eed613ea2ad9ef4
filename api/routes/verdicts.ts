import { createRoute } from '@hono/zod-openapi';
import { QuorumError, Verdict } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import { readVerdict } from '../../sessions/index.ts';
import { named } from '../openapi.ts';
import { IdParam, jsonResponses, resourceApp } from './shared.ts';

/** Verdicts are immutable once stored, so reads are cached (bounded). */
export const VERDICT_CACHE_SIZE = 5_000;

/** GET /v1/verdicts/{id}: a stored verdict, from a bounded cache. */
export function verdictRoutes(db: Db) {
  const cache = new Map<string, Verdict>();
  const cached = async (id: string): Promise<Verdict> => {
    const hit = cache.get(id);
    if (hit) return hit;
    const stored = await readVerdict(db, id);
    if (!stored) throw new QuorumError('NOT_FOUND', `no verdict ${id}`);
    if (cache.size >= VERDICT_CACHE_SIZE) cache.delete(cache.keys().next().value ?? '');
    cache.set(id, stored);
    return stored;
  };
  return resourceApp().openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      summary: 'A stored verdict',
      request: { params: IdParam },
      responses: jsonResponses('The verdict', named('Verdict', Verdict)),
    }),
    async (c) => c.json(await cached(c.req.valid('param').id), 200),
  );
}
