import { createRoute, z } from '@hono/zod-openapi';
import type { Registry } from 'prom-client';
import { ERROR_RESPONSES } from '../errors.ts';
import { resourceApp } from './shared.ts';

const Exposition = z.string().openapi({ description: 'Prometheus text exposition format', example: 'quorum_verdicts{decision="REDUCE"} 1' });

/** GET /metrics (Prometheus; needs a token). */
export function metricsRoutes(registry: Registry) {
  return resourceApp().openapi(
    createRoute({
      method: 'get',
      path: '/',
      summary: 'Prometheus metrics: sessions, verdicts, orders, risk denials by rule, LLM calls, tokens and latency, HTTP requests',
      responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: Exposition } } }, 401: ERROR_RESPONSES[401] },
    }),
    async (c) => c.text(await registry.metrics(), 200, { 'content-type': registry.contentType }),
  );
}
