import { createRoute, z } from '@hono/zod-openapi';
import type { Db } from '../../db/index.ts';
import { resourceApp } from './shared.ts';

const Liveness = z.object({ status: z.literal('ok') }).openapi('Liveness');
const Readiness = z.object({ status: z.enum(['ready', 'not ready']), database: z.enum(['pglite', 'postgres']) }).openapi('Readiness');

/** GET /healthz and /readyz: liveness and readiness, without a token. */
export function healthRoutes(db: Db) {
  return resourceApp()
    .openapi(
      createRoute({
        method: 'get',
        path: '/healthz',
        summary: 'Liveness',
        security: [],
        responses: { 200: { description: 'The process answers', content: { 'application/json': { schema: Liveness } } } },
      }),
      (c) => c.json({ status: 'ok' as const }, 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/readyz',
        summary: 'Readiness: the database answers',
        security: [],
        responses: {
          200: { description: 'Ready', content: { 'application/json': { schema: Readiness } } },
          503: { description: 'The database does not answer', content: { 'application/json': { schema: Readiness } } },
        },
      }),
      async (c) => {
        try {
          await db.query('SELECT 1');
          return c.json({ status: 'ready' as const, database: db.kind }, 200);
        } catch {
          return c.json({ status: 'not ready' as const, database: db.kind }, 503);
        }
      },
    );
}
