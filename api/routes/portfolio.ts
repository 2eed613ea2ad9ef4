import { createRoute, z } from '@hono/zod-openapi';
import type { Db } from '../../db/index.ts';
import { PortfolioView, TradingStateView, readPortfolio, setTradingState } from '../../sessions/index.ts';
import { requireScope } from '../auth.ts';
import { named } from '../openapi.ts';
import { jsonResponses, resourceApp } from './shared.ts';

/** GET /v1/portfolio: positions, trading state, latest equity. */
export function portfolioRoutes(db: Db) {
  return resourceApp().openapi(
    createRoute({
      method: 'get',
      path: '/',
      summary: 'Positions, trading state and latest equity',
      responses: jsonResponses('Portfolio', named('Portfolio', PortfolioView)),
    }),
    async (c) => c.json(await readPortfolio(db), 200),
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

/** POST /v1/controls/halt and /resume: the kill switch (control scope). */
export function controlRoutes(db: Db) {
  return resourceApp()
    .openapi(controlRoute('halt', 'Halt trading: every new order is denied, cancels still pass', HaltBody), async (c) => {
      const { reason } = c.req.valid('json');
      return c.json(await setTradingState(db, 'HALTED', reason, `api:${c.get('principal').name}`), 200);
    })
    .openapi(controlRoute('resume', 'Resume trading: ACTIVE, or REDUCING (only orders that reduce exposure)', ResumeBody), async (c) => {
      const { reason, state } = c.req.valid('json');
      return c.json(await setTradingState(db, state, reason, `api:${c.get('principal').name}`), 200);
    });
}
