import { createRoute, z } from '@hono/zod-openapi';
import type { Db } from '../../db/index.ts';
import { ApprovalFilter, ApprovalReply, ApprovalView, answerApproval, listApprovals, type SessionEnv } from '../../sessions/index.ts';
import { requireScope } from '../auth.ts';
import { CONFLICT_RESPONSE, ERROR_RESPONSES, UNAVAILABLE_RESPONSE } from '../errors.ts';
import { named } from '../openapi.ts';
import { IdParam, jsonResponses, resourceApp } from './shared.ts';
import { requireSession } from './critiques.ts';

const ApprovalList = z.object({ approvals: z.array(named('Approval', ApprovalView)) }).openapi('ApprovalList');
const AnswerBody = z.object({ approve: z.boolean(), reason: z.string().trim().min(1).max(1000) }).strict();

/** GET /v1/approvals and POST /v1/approvals/{id} (control scope): orders waiting for a human. */
export function approvalRoutes(db: Db, session: SessionEnv | undefined) {
  return resourceApp()
    .openapi(
      createRoute({
        method: 'get',
        path: '/',
        summary: 'Approvals (execution.requireApproval): orders waiting for a human, or decided ones',
        request: { query: z.object({ status: ApprovalFilter.default('pending') }) },
        responses: jsonResponses('Approvals', ApprovalList),
      }),
      async (c) => c.json({ approvals: await listApprovals({ db }, c.req.valid('query').status) }, 200),
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/{id}',
        summary: 'Approve or reject a pending order; the run resumes from its checkpoint (control scope)',
        middleware: [requireScope('control')] as const,
        request: { params: IdParam, body: { required: true, content: { 'application/json': { schema: AnswerBody } } } },
        responses: {
          200: { description: 'The decision and the order it led to', content: { 'application/json': { schema: named('ApprovalReply', ApprovalReply) } } },
          ...ERROR_RESPONSES,
          409: CONFLICT_RESPONSE,
          503: UNAVAILABLE_RESPONSE,
        },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const { approve, reason } = c.req.valid('json');
        const out = await answerApproval(requireSession(session), id, { approve, reason, by: `api:${c.get('principal').name}` });
        const reply: ApprovalReply = { id, status: approve ? 'approved' : 'rejected', decision: out.decision?.id ?? null, order: out.order };
        return c.json(reply, 200);
      },
    );
}
