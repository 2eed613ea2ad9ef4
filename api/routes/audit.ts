import { createRoute } from '@hono/zod-openapi';
import { QuorumError } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import { AuditChain, auditChainForOrder } from '../../sessions/index.ts';
import { named } from '../openapi.ts';
import { IdParam, jsonResponses, resourceApp } from './shared.ts';

/** GET /v1/audit/orders/{id}: the whole chain behind an order. */
export function auditRoutes(db: Db) {
  return resourceApp().openapi(
    createRoute({
      method: 'get',
      path: '/orders/{id}',
      summary: 'The whole chain behind an order (by order id or client_order_id)',
      request: { params: IdParam },
      responses: jsonResponses('order → intent → risk decision → verdict → transcript → news → proposal → model', named('AuditChain', AuditChain)),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const chain = await auditChainForOrder(db, id);
      if (!chain) throw new QuorumError('NOT_FOUND', `no order ${id}`);
      return c.json(chain, 200);
    },
  );
}
