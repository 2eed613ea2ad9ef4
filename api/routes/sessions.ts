import { createRoute, z } from '@hono/zod-openapi';
import { QuorumError } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import { SessionSummary, SessionView, listSessions, readSession } from '../../sessions/index.ts';
import { named } from '../openapi.ts';
import { IdParam, jsonResponses, resourceApp } from './shared.ts';

const SessionList = z.object({ sessions: z.array(named('SessionSummary', SessionSummary)) }).openapi('SessionList');
const Page = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

/** GET /v1/sessions and /v1/sessions/{id}. */
export function sessionRoutes(db: Db) {
  return resourceApp()
    .openapi(
      createRoute({
        method: 'get',
        path: '/',
        summary: 'Committee sessions, newest first',
        request: { query: Page },
        responses: jsonResponses('Sessions', SessionList),
      }),
      async (c) => {
        const { limit, offset } = c.req.valid('query');
        return c.json({ sessions: await listSessions(db, limit, offset) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/{id}',
        summary: 'A session with its proposals, verdicts, risk decisions and orders',
        request: { params: IdParam },
        responses: jsonResponses('The session', named('Session', SessionView)),
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const session = await readSession(db, id);
        if (!session) throw new QuorumError('NOT_FOUND', `no session ${id}`);
        return c.json(session, 200);
      },
    );
}
