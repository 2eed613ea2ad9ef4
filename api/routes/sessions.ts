import { createRoute, z } from '@hono/zod-openapi';
import type { Logger } from '../../config/index.ts';
import { QuorumError } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import { SessionSummary, SessionView, listSessions, readSession, startSession, type SessionEnv } from '../../sessions/index.ts';
import { requireScope } from '../auth.ts';
import { ERROR_RESPONSES, UNAVAILABLE_RESPONSE, badRequest } from '../errors.ts';
import { named } from '../openapi.ts';
import { requireSession } from './critiques.ts';
import { IdParam, jsonResponses, resourceApp } from './shared.ts';

const SessionList = z.object({ sessions: z.array(named('SessionSummary', SessionSummary)) }).openapi('SessionList');
const Page = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

const StartBody = z
  .object({ asOf: z.iso.datetime({ offset: true }).openapi({ example: '2014-04-25T16:30:00Z' }) })
  .strict()
  .openapi('StartSession');
const Started = z.object({ sessionId: z.string(), created: z.boolean(), slot: z.string() }).openapi('StartedSession');

/** GET /v1/sessions, /v1/sessions/{id}; POST /v1/sessions starts a manual session (control scope). */
export function sessionRoutes(db: Db, session: SessionEnv | undefined, log: Logger | undefined) {
  return resourceApp()
    .openapi(
      createRoute({
        method: 'post',
        path: '/',
        summary:
          'Start a manual session at asOf (at most one per asOf): 202 once its proposals are chosen; the committee runs stream on GET /v1/console/live (control scope)',
        middleware: [requireScope('control')] as const,
        request: { body: { required: true, content: { 'application/json': { schema: StartBody } } } },
        responses: {
          202: { description: 'The session, judging in the background', content: { 'application/json': { schema: Started } } },
          ...ERROR_RESPONSES,
          503: UNAVAILABLE_RESPONSE,
        },
      }),
      async (c) => {
        const env = requireSession(session);
        const { asOf } = c.req.valid('json');
        const slot = `manual ${asOf}`;
        let started;
        try {
          started = await startSession(env, { asOf, kind: 'manual', slot });
        } catch (error) {
          if (QuorumError.is(error, 'INPUT_INVALID')) throw badRequest('body', [{ path: 'asOf', message: error.message }]);
          throw error;
        }
        started.done.catch((error: unknown) => log?.error({ err: error, sessionId: started.sessionId }, 'session failed'));
        return c.json({ sessionId: started.sessionId, created: started.created, slot }, 202);
      },
    )
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
