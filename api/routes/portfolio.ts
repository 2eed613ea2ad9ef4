import { createRoute, z } from '@hono/zod-openapi';
import type { Db } from '../../db/index.ts';
import type { Config } from '../../config/index.ts';
import {
  BreakerStatusView,
  ModelHaltView,
  ModelOverrideView,
  PortfolioView,
  TradingStateView,
  haltModel,
  overrideModel,
  readBreakerStatus,
  readPortfolio,
  resumeModel,
  revokeModelOverride,
  setTradingState,
} from '../../sessions/index.ts';
import { requireScope } from '../auth.ts';
import { named } from '../openapi.ts';
import { jsonResponses, resourceApp } from './shared.ts';

/** GET /v1/portfolio: positions, trading state, latest equity; /breakers: the circuit breakers and halted models. */
export function portfolioRoutes(db: Db, config: Config) {
  return resourceApp()
    .openapi(
      createRoute({
        method: 'get',
        path: '/',
        summary: 'Positions, trading state and latest equity',
        responses: jsonResponses('Portfolio', named('Portfolio', PortfolioView)),
      }),
      async (c) => c.json(await readPortfolio(db), 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/breakers',
        summary: 'The circuit breakers over the closed trades (which one holds the book in REDUCING) and the halted models',
        responses: jsonResponses('Circuit breakers', named('BreakerStatus', BreakerStatusView)),
      }),
      async (c) => c.json(await readBreakerStatus(db, config), 200),
    );
}

const Reason = z.string().trim().min(1).max(500);
const HaltBody = z.object({ reason: Reason }).strict();
const ResumeBody = z.object({ reason: Reason, state: z.enum(['ACTIVE', 'REDUCING']).default('ACTIVE') }).strict();
const TradingStateReply = named('TradingState', TradingStateView);

const controlRoute = <B extends z.ZodType>(action: 'halt' | 'resume', summary: string, body: B) =>
  createRoute({
    method: 'post',
    path: `/${action}`,
    summary: `${summary} (control scope)`,
    middleware: [requireScope('control')] as const,
    request: { body: { required: true, content: { 'application/json': { schema: body } } } },
    responses: jsonResponses('The new trading state', TradingStateReply),
  });

const ModelHaltBody = z.object({ modelId: z.string().trim().min(1).max(128), reason: Reason }).strict();
const ModelHaltsReply = named('ModelHalts', z.object({ haltedModels: z.array(named('ModelHalt', ModelHaltView)) }).strict());
const OverrideBody = z
  .object({ modelId: z.string().trim().min(1).max(128), modelVersion: z.string().trim().min(1).max(128), reason: Reason, revoke: z.boolean().default(false) })
  .strict();

const modelRoute = <B extends z.ZodType, R extends z.ZodType>(p: string, summary: string, body: B, reply: R, description: string) =>
  createRoute({
    method: 'post',
    path: p,
    summary: `${summary} (control scope)`,
    middleware: [requireScope('control')] as const,
    request: { body: { required: true, content: { 'application/json': { schema: body } } } },
    responses: jsonResponses(description, reply),
  });

/**
 * POST /v1/controls/halt and /resume: the kill switch; /models/halt and /models/resume: the
 * per-model one; /models/override: trade on an unhealthy model version (all control scope, audited).
 */
export function controlRoutes(db: Db) {
  return resourceApp()
    .openapi(controlRoute('halt', 'Halt trading: every new order is denied, cancels still pass', HaltBody), async (c) => {
      const { reason } = c.req.valid('json');
      return c.json(await setTradingState(db, 'HALTED', reason, `api:${c.get('principal').name}`), 200);
    })
    .openapi(controlRoute('resume', 'Resume trading: ACTIVE, or REDUCING (only orders that reduce exposure)', ResumeBody), async (c) => {
      const { reason, state } = c.req.valid('json');
      return c.json(await setTradingState(db, state, reason, `api:${c.get('principal').name}`), 200);
    })
    .openapi(
      modelRoute(
        '/models/halt',
        'Halt one model: its proposals send no order, the rest of the book trades on',
        ModelHaltBody,
        ModelHaltsReply,
        'The halted models',
      ),
      async (c) => {
        const { modelId, reason } = c.req.valid('json');
        return c.json({ haltedModels: await haltModel(db, modelId, reason, `api:${c.get('principal').name}`) }, 200);
      },
    )
    .openapi(modelRoute('/models/resume', 'Resume one halted model', ModelHaltBody, ModelHaltsReply, 'The halted models'), async (c) => {
      const { modelId, reason } = c.req.valid('json');
      return c.json({ haltedModels: await resumeModel(db, modelId, reason, `api:${c.get('principal').name}`) }, 200);
    })
    .openapi(
      modelRoute(
        '/models/override',
        'Let a model version trade although its health score is below the threshold; revoke: end the override',
        OverrideBody,
        named('ModelOverride', ModelOverrideView),
        'The override',
      ),
      async (c) => {
        const { modelId, modelVersion, reason, revoke } = c.req.valid('json');
        const input = { modelId, modelVersion, reason, actor: `api:${c.get('principal').name}` };
        return c.json(revoke ? await revokeModelOverride(db, input) : await overrideModel(db, input), 200);
      },
    );
}
