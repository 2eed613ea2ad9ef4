import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { Logger } from '../../config/index.ts';
import { QuorumError, type Proposal } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import {
  CritiqueField,
  CritiqueReply,
  CritiqueRequest,
  CritiqueView,
  proposalForCritique,
  readCritique,
  runCritique,
  type SessionEnv,
} from '../../sessions/index.ts';
import { ERROR_RESPONSES, UNAVAILABLE_RESPONSE, apiError, badRequest, type ErrorBody } from '../errors.ts';
import { named } from '../openapi.ts';
import { IdParam, jsonResponses, resourceApp } from './shared.ts';

/** The committee of this server, or a 503 when it was started without one. */
export function requireSession(session: SessionEnv | undefined): SessionEnv {
  if (!session) throw apiError(503, 'UNAVAILABLE', 'this server has no committee configured');
  return session;
}

/** The proposal a request names; an unusable ticker or asOf is a 400 naming `body.ticker` or `body.asOf`. */
async function proposalOf(session: SessionEnv, req: CritiqueRequest): Promise<Proposal> {
  try {
    return await proposalForCritique(session, req);
  } catch (error) {
    if (!QuorumError.is(error, 'INPUT_INVALID')) throw error;
    const field = CritiqueField.safeParse(error.details.field);
    throw badRequest('body', [{ path: field.success ? field.data : '', message: error.message }]);
  }
}

const SSE_DESCRIPTION =
  'With Accept: text/event-stream, an SSE stream of run_started and node_finished events, then one verdict event (a Critique as data), or an error event';

const postCritique = createRoute({
  method: 'post',
  path: '/',
  summary: "Run the committee on a proposal, or on the model's proposal for {ticker, asOf}",
  request: { body: { required: true, content: { 'application/json': { schema: named('CritiqueRequest', CritiqueRequest) } } } },
  responses: {
    200: {
      description: `The verdict and the run it came from. ${SSE_DESCRIPTION}`,
      content: {
        'application/json': { schema: named('Critique', CritiqueReply) },
        'text/event-stream': { schema: z.string().openapi({ description: SSE_DESCRIPTION }) },
      },
    },
    ...ERROR_RESPONSES,
    503: UNAVAILABLE_RESPONSE,
  },
});

/** POST /v1/critiques (JSON or SSE) and GET /v1/critiques/{id}. */
export function critiqueRoutes(db: Db, session: SessionEnv | undefined, log: Logger | undefined) {
  return resourceApp()
    .openapi(postCritique, async (c) => {
      const env = requireSession(session);
      const proposal = await proposalOf(env, c.req.valid('json'));
      if (!(c.req.header('accept') ?? '').includes('text/event-stream')) return c.json(await runCritique(env, proposal), 200);
      return streamSSE(c, async (stream) => {
        const writes: Promise<void>[] = [];
        try {
          const reply = await runCritique(env, proposal, (e) => writes.push(stream.writeSSE({ event: e.type, data: JSON.stringify(e) })));
          await Promise.all(writes);
          await stream.writeSSE({ event: 'verdict', data: JSON.stringify(reply) });
        } catch (error) {
          await Promise.all(writes);
          log?.error({ err: error }, 'critique failed');
          await stream.writeSSE({ event: 'error', data: JSON.stringify({ error: 'INTERNAL', message: 'the committee run failed' } satisfies ErrorBody) });
        }
      });
    })
    .openapi(
      createRoute({
        method: 'get',
        path: '/{id}',
        summary: 'A critique: the committee run, its proposal, verdict and transcript',
        request: { params: IdParam },
        responses: jsonResponses('The critique', named('CritiqueRun', CritiqueView)),
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const critique = await readCritique(db, id);
        if (!critique) throw new QuorumError('NOT_FOUND', `no critique ${id}`);
        return c.json(critique, 200);
      },
    );
}
