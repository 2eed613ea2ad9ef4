import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { rateLimiter } from 'hono-rate-limiter';
import type { Config, Logger } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import type { SessionEnv } from '../sessions/index.ts';
import { bearerAuth, type AuthEnv } from './auth.ts';
import { apiError, toErrorResponse, validationHook } from './errors.ts';
import { createMetrics } from './metrics.ts';
import { approvalRoutes } from './routes/approvals.ts';
import { auditRoutes } from './routes/audit.ts';
import { consoleApiRoutes, consolePageRoutes } from './routes/console.ts';
import { critiqueRoutes } from './routes/critiques.ts';
import { healthRoutes } from './routes/health.ts';
import { localAdminRoutes } from './routes/local-admin.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { controlRoutes, portfolioRoutes } from './routes/portfolio.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { verdictRoutes } from './routes/verdicts.ts';

export { VERDICT_CACHE_SIZE } from './routes/verdicts.ts';

export interface AppDeps {
  db: Db;
  config: Config;
  log?: Logger;
  /** What the committee needs (backend, proposer, news search, checkpointer). Without it, critiques answer 503. */
  session?: SessionEnv;
  /** The key of `<dataDir>/serve.json`: enables POST /local/tokens for the user who started the server. */
  localKey?: string;
}

/** Counts and times every request by its route pattern (`/v1/verdicts/:id`, not the id). */
function requestMetrics(metrics: ReturnType<typeof createMetrics>): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const end = metrics.httpDuration.startTimer();
    await next();
    const route = c.req.routePath;
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    end({ method: c.req.method, route });
  };
}

/** Per-token rate limit of the /v1 routes. */
function perTokenLimit(limit: number): MiddlewareHandler<AuthEnv> {
  return rateLimiter<AuthEnv>({
    windowMs: 60_000,
    limit,
    standardHeaders: 'draft-7',
    keyGenerator: (c) => c.get('principal').tokenId,
    handler: () => {
      throw apiError(429, 'RATE_LIMITED', `more than ${limit} requests a minute`);
    },
  });
}

/**
 * The Hono app: one sub-app per resource (api/routes/), each route validated with zod and documented
 * with its response schema at /openapi.json; every failure goes through api/errors.ts.
 */
export function createApp(deps: AppDeps): OpenAPIHono<AuthEnv> {
  const { db, config } = deps;
  const { bodyLimitBytes, rateLimitPerMinute } = config.settings.api;
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const metrics = createMetrics(db);

  app.onError((error, c) => {
    if (!(error instanceof HTTPException) || error.status >= 500) deps.log?.error({ err: error, path: c.req.path }, 'request failed');
    return toErrorResponse(error);
  });
  app.notFound(() => toErrorResponse(apiError(404, 'NOT_FOUND', 'no such route')));
  app.use('*', requestMetrics(metrics));
  app.use(
    '*',
    bodyLimit({
      maxSize: bodyLimitBytes,
      onError: () => {
        throw apiError(413, 'PAYLOAD_TOO_LARGE', `body larger than ${bodyLimitBytes} bytes`);
      },
    }),
  );

  // Unauthenticated: liveness, readiness, the API description, and (with a local key) token creation.
  app.route('/', healthRoutes(db));
  // The web console (web/): its page and bundle need no token; its data comes from /v1 like any client's.
  app.route('/', consolePageRoutes());
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Quorum API', version: '1', description: 'Critique trade proposals with an LLM committee; a hard-rule risk controller has the last word.' },
    security: [{ bearer: [] }],
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  if (deps.localKey) app.route('/local', localAdminRoutes(db, deps.localKey));

  // Everything else needs a token; /v1 requests are rate limited per token.
  const auth = bearerAuth(db, config.secrets.apiToken);
  app.use('/v1/*', auth, perTokenLimit(rateLimitPerMinute));
  app.use('/metrics', auth);
  app.route('/metrics', metricsRoutes(metrics.registry));
  app.route('/v1/verdicts', verdictRoutes(db));
  app.route('/v1/sessions', sessionRoutes(db, deps.session, deps.log));
  app.route('/v1/audit', auditRoutes(db));
  app.route('/v1/portfolio', portfolioRoutes(db, config));
  app.route('/v1/controls', controlRoutes(db));
  app.route('/v1/critiques', critiqueRoutes(db, deps.session, deps.log));
  app.route('/v1/approvals', approvalRoutes(db, deps.session));
  app.route('/v1/console', consoleApiRoutes(db, config));
  return app;
}
