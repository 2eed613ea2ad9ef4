import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { rateLimiter } from 'hono-rate-limiter';
import type { Config, Logger } from '../config/index.ts';
import type { JSONValue } from 'hono/utils/types';
import { QuorumError, Verdict, fieldIssues, parseJson } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { setTradingState } from '../execution/index.ts';
import { runCommittee, type CommitteeEvent } from '../graph/index.ts';
import { answerApproval, listApprovals, type SessionEnv } from '../sessions/index.ts';
import { streamSSE } from 'hono/streaming';
import { CritiqueRequest, getCritique, proposalForRequest } from './critiques.ts';
import { bearerAuth, requireScope, type AuthEnv } from './auth.ts';
import { ErrorBody, badRequest, toErrorResponse, validationHook } from './errors.ts';
import { createMetrics } from './metrics.ts';
import { named } from './openapi.ts';
import { LOCAL_KEY_HEADER, LocalTokenReply, LocalTokenRequest, localKeyMatches } from './local-admin.ts';
import { createApiToken } from './tokens.ts';
import { auditChainForOrder, getSession, getVerdict, listSessions, portfolioView } from './read-models.ts';

export interface AppDeps {
  db: Db;
  config: Config;
  log?: Logger;
  /** What the committee needs (backend, proposer, news search, checkpointer). Without it, critiques answer 503. */
  session?: SessionEnv;
  /** The key of `<dataDir>/serve.json`: enables POST /local/tokens for the user who started the server. */
  localKey?: string;
}

/** Verdicts are immutable once stored, so reads are cached (bounded). */
export const VERDICT_CACHE_SIZE = 5_000;

const Id = z.string().min(1).max(128).openapi({ example: 'vrd_3f2a9c' });
const AnyObject = z.record(z.string(), z.unknown());
const errors = {
  400: { description: 'Bad input; names the field', content: { 'application/json': { schema: ErrorBody } } },
  401: { description: 'Missing or invalid token', content: { 'application/json': { schema: ErrorBody } } },
  403: { description: 'Token lacks the scope', content: { 'application/json': { schema: ErrorBody } } },
  404: { description: 'Not found', content: { 'application/json': { schema: ErrorBody } } },
} as const;


/**
 * Read models come from database rows whose dates are already ISO strings and whose jsonb columns
 * are JSON, so they are JSON values; this says so to Hono's typed responses in one place.
 */
function asJson(value: Record<string, unknown>): { [key: string]: JSONValue } {
  return value as { [key: string]: JSONValue };
}

/** The Hono app: routes validated with zod, documented at /openapi.json, tested with app.request(). */
export function createApp(deps: AppDeps): OpenAPIHono<AuthEnv> {
  const { db, config } = deps;
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const metrics = createMetrics(db);
  const verdictCache = new Map<string, Verdict>();
  const VerdictSchema = named('Verdict', Verdict);

  app.onError((error, c) => {
    if (!(error instanceof HTTPException) || error.status >= 500) deps.log?.error({ err: error, path: c.req.path }, 'request failed');
    return toErrorResponse(error);
  });
  app.notFound(() => Response.json({ error: 'NOT_FOUND', message: 'no such route' } satisfies ErrorBody, { status: 404 }));

  app.use('*', async (c, next) => {
    const end = metrics.httpDuration.startTimer();
    await next();
    const route = c.req.routePath;
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    end({ method: c.req.method, route });
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: config.settings.api.bodyLimitBytes,
      onError: () => {
        throw new HTTPException(413, {
          res: Response.json(
            { error: 'PAYLOAD_TOO_LARGE', message: `body larger than ${config.settings.api.bodyLimitBytes} bytes` } satisfies ErrorBody,
            { status: 413 },
          ),
        });
      },
    }),
  );

  // Unauthenticated: liveness, readiness, the API description.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await db.query('SELECT 1');
      return c.json({ status: 'ready', database: db.kind });
    } catch {
      return c.json({ status: 'not ready', database: db.kind }, 503);
    }
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Quorum API', version: '1', description: 'Critique trade proposals with an LLM committee; a hard-rule risk controller has the last word.' },
    security: [{ bearer: [] }],
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });

  // Token creation for local processes while this server owns the embedded database (api/local-admin.ts).
  const localKey = deps.localKey;
  if (localKey) {
    app.openAPIRegistry.registerComponent('securitySchemes', 'localKey', { type: 'apiKey', in: 'header', name: LOCAL_KEY_HEADER });
    app.openapi(
      createRoute({
        method: 'post',
        path: '/local/tokens',
        summary: 'Create an API token (for `quorum token create` on this machine while the server owns the embedded database)',
        security: [{ localKey: [] }],
        request: { body: { required: true, content: { 'application/json': { schema: LocalTokenRequest } } } },
        responses: { 200: { description: 'The token, shown once', content: { 'application/json': { schema: LocalTokenReply } } }, ...errors },
      }),
      async (c) => {
        if (!localKeyMatches(localKey, c.req.header(LOCAL_KEY_HEADER))) {
          throw new QuorumError('UNAUTHORIZED', `missing or wrong ${LOCAL_KEY_HEADER} (see serve.json in the data directory)`);
        }
        const { scope, name } = c.req.valid('json');
        return c.json(await createApiToken(db, name, scope), 200);
      },
    );
  }

  // Everything else needs a token; requests are rate limited per token.
  const auth = bearerAuth(db, config.secrets.apiToken);
  app.use('/v1/*', auth);
  app.use('/metrics', auth);
  app.use(
    '/v1/*',
    rateLimiter<AuthEnv>({
      windowMs: 60_000,
      limit: config.settings.api.rateLimitPerMinute,
      standardHeaders: 'draft-7',
      keyGenerator: (c) => c.get('principal').tokenId,
      handler: (c) => c.json({ error: 'RATE_LIMITED', message: `more than ${config.settings.api.rateLimitPerMinute} requests a minute` } satisfies ErrorBody, 429),
    }),
  );
  app.use('/v1/controls/*', requireScope('control'));
  app.use('/v1/approvals/:id', async (c, next) => (c.req.method === 'POST' ? requireScope('control')(c, next) : next()));

  app.get('/metrics', async (c) => {
    c.header('content-type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/verdicts/{id}',
      summary: 'A stored verdict',
      request: { params: z.object({ id: Id }) },
      responses: { 200: { description: 'The verdict', content: { 'application/json': { schema: VerdictSchema } } }, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      let verdict = verdictCache.get(id);
      if (!verdict) {
        const stored = await getVerdict(db, id);
        if (!stored) throw new QuorumError('NOT_FOUND', `no verdict ${id}`);
        verdict = stored;
        if (verdictCache.size >= VERDICT_CACHE_SIZE) verdictCache.delete(verdictCache.keys().next().value ?? '');
        verdictCache.set(id, verdict);
      }
      return c.json(verdict, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions',
      summary: 'Committee sessions, newest first',
      request: {
        query: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          offset: z.coerce.number().int().min(0).default(0),
        }),
      },
      responses: { 200: { description: 'Sessions', content: { 'application/json': { schema: z.object({ sessions: z.array(AnyObject) }) } } }, ...errors },
    }),
    async (c) => {
      const { limit, offset } = c.req.valid('query');
      return c.json({ sessions: (await listSessions(db, limit, offset)).map(asJson) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions/{id}',
      summary: 'A session with its proposals, verdicts, risk decisions and orders',
      request: { params: z.object({ id: Id }) },
      responses: { 200: { description: 'The session', content: { 'application/json': { schema: AnyObject } } }, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const session = await getSession(db, id);
      if (!session) throw new QuorumError('NOT_FOUND', `no session ${id}`);
      return c.json(asJson(session), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/audit/orders/{id}',
      summary: 'The whole chain behind an order (by order id or client_order_id)',
      request: { params: z.object({ id: Id }) },
      responses: { 200: { description: 'order → intent → risk decision → verdict → transcript → news → proposal → model', content: { 'application/json': { schema: AnyObject } } }, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const chain = await auditChainForOrder(db, id);
      if (!chain) throw new QuorumError('NOT_FOUND', `no order ${id}`);
      return c.json(asJson(chain), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/portfolio',
      summary: 'Positions, trading state and latest equity',
      responses: { 200: { description: 'Portfolio', content: { 'application/json': { schema: AnyObject } } }, ...errors },
    }),
    async (c) => c.json(asJson(await portfolioView(db)), 200),
  );

  const TradingStateBody = z.object({ state: z.string(), reason: z.string(), updatedAt: z.string() }).openapi('TradingState');
  const control = <B extends z.ZodType>(action: 'halt' | 'resume', summary: string, body: B) =>
    createRoute({
      method: 'post',
      path: `/v1/controls/${action}`,
      summary,
      request: { body: { required: true, content: { 'application/json': { schema: body } } } },
      responses: { 200: { description: 'The new trading state', content: { 'application/json': { schema: TradingStateBody } } }, ...errors },
    });
  const Reason = z.string().trim().min(1).max(500);

  app.openapi(
    control('halt', 'Halt trading: every new order is denied, cancels still pass', z.object({ reason: Reason }).strict()),
    async (c) => {
      const { reason } = c.req.valid('json');
      return c.json(await setTradingState(db, 'HALTED', reason, `api:${c.get('principal').name}`), 200);
    },
  );
  app.openapi(
    control(
      'resume',
      'Resume trading: ACTIVE, or REDUCING (only orders that reduce exposure)',
      z.object({ reason: Reason, state: z.enum(['ACTIVE', 'REDUCING']).default('ACTIVE') }).strict(),
    ),
    async (c) => {
      const { reason, state } = c.req.valid('json');
      return c.json(await setTradingState(db, state, reason, `api:${c.get('principal').name}`), 200);
    },
  );

  // Mounted with app.post (its SSE reply is no typed JSON response) and documented by hand.
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/v1/critiques',
    summary: "Run the committee on a proposal, or on the model's proposal for {ticker, asOf}; Accept: text/event-stream streams progress node by node",
    request: { body: { required: true, content: { 'application/json': { schema: CritiqueRequest } } } },
    responses: {
      200: { description: 'The verdict (JSON), or an SSE stream of run_started, node_finished and verdict events', content: { 'application/json': { schema: AnyObject }, 'text/event-stream': { schema: z.string() } } },
      503: { description: 'No committee configured', content: { 'application/json': { schema: ErrorBody } } },
      ...errors,
    },
  });
  app.post('/v1/critiques', async (c) => {
    const session = deps.session;
    if (!session) return c.json({ error: 'UNAVAILABLE', message: 'this server has no committee configured' } satisfies ErrorBody, 503);
    const raw = parseJson(await c.req.text());
    if (!raw.ok) throw badRequest('body', raw.issues);
    const parsed = CritiqueRequest.safeParse(raw.value);
    if (!parsed.success) throw badRequest('body', fieldIssues(parsed.error));
    const proposal = await proposalForRequest(session, parsed.data);
    const run = (onEvent?: (e: CommitteeEvent) => void) =>
      runCommittee({ db, config, proposal, backend: session.backend.backend, searchNews: session.searchNews, checkpointer: session.checkpointer, onEvent });
    if ((c.req.header('accept') ?? '').includes('text/event-stream')) {
      return streamSSE(c, async (stream) => {
        const writes: Promise<void>[] = [];
        try {
          const res = await run((e) => {
            writes.push(stream.writeSSE({ event: e.type, data: JSON.stringify(e) }));
          });
          await Promise.all(writes);
          await stream.writeSSE({ event: 'verdict', data: JSON.stringify({ critiqueId: res.runId, backend: session.backend.name, verdict: res.verdict, stats: res.stats }) });
        } catch (error) {
          await Promise.all(writes);
          deps.log?.error({ err: error }, 'critique failed');
          await stream.writeSSE({ event: 'error', data: JSON.stringify({ error: 'INTERNAL', message: 'the committee run failed' }) });
        }
      });
    }
    const res = await run();
    return c.json({ critiqueId: res.runId, backend: session.backend.name, notice: session.backend.notice, verdict: res.verdict, stats: res.stats });
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/critiques/{id}',
      summary: 'A critique: the committee run, its verdict and transcript',
      request: { params: z.object({ id: Id }) },
      responses: { 200: { description: 'The critique', content: { 'application/json': { schema: AnyObject } } }, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const critique = await getCritique(db, id);
      if (!critique) throw new QuorumError('NOT_FOUND', `no critique ${id}`);
      return c.json(asJson(critique), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/approvals',
      summary: 'Approvals (execution.requireApproval): orders waiting for a human, or decided ones',
      request: { query: z.object({ status: z.enum(['pending', 'approved', 'rejected', 'all']).default('pending') }) },
      responses: { 200: { description: 'Approvals', content: { 'application/json': { schema: z.object({ approvals: z.array(AnyObject) }) } } }, ...errors },
    }),
    async (c) => {
      const { status } = c.req.valid('query');
      return c.json({ approvals: (await listApprovals({ db }, status)).map(asJson) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/approvals/{id}',
      summary: 'Approve or reject a pending order; the run resumes from its checkpoint (control scope)',
      request: {
        params: z.object({ id: Id }),
        body: { required: true, content: { 'application/json': { schema: z.object({ approve: z.boolean(), reason: z.string().trim().min(1).max(1000) }).strict() } } },
      },
      responses: {
        200: { description: 'The decision and the order it led to', content: { 'application/json': { schema: AnyObject } } },
        409: { description: 'Already decided', content: { 'application/json': { schema: ErrorBody } } },
        ...errors,
      },
    }),
    async (c) => {
      if (!deps.session) throw new HTTPException(503, { res: Response.json({ error: 'UNAVAILABLE', message: 'this server has no committee configured' } satisfies ErrorBody, { status: 503 }) });
      const { id } = c.req.valid('param');
      const { approve, reason } = c.req.valid('json');
      const out = await answerApproval(deps.session, id, { approve, reason, by: `api:${c.get('principal').name}` });
      return c.json(asJson({ id, status: out.status, decision: out.decision?.id ?? null, order: out.order }), 200);
    },
  );

  return app;
}
