import { Annotation, Command, END, START, StateGraph, interrupt } from '@langchain/langgraph';
import { z } from 'zod';
import { QuorumError, type Proposal, type RiskDecision, type Verdict } from '../contracts/index.ts';
import { appendAudit } from '../db/index.ts';
import { buildPortfolioSnapshot, intentFromDecision, recordRiskDecision, submitIntent, type SubmitOutcome } from '../execution/index.ts';
import { marketSnapshot } from '../market/index.ts';
import { decide } from '../risk/index.ts';
import type { SessionEnv } from './run.ts';

/** A human's answer to a pending approval. */
export const ApprovalAnswer = z
  .object({
    approve: z.boolean(),
    by: z.string().min(1).max(200),
    reason: z.string().trim().min(1).max(1000),
  })
  .strict();
export type ApprovalAnswer = z.infer<typeof ApprovalAnswer>;

const OrderState = Annotation.Root({
  sessionId: Annotation<string>(),
  proposal: Annotation<Proposal>(),
  verdict: Annotation<Verdict>(),
  runId: Annotation<string | null>(),
  decision: Annotation<RiskDecision | null>(),
  approval: Annotation<(ApprovalAnswer & { id: string }) | null>(),
  order: Annotation<SubmitOutcome | null>(),
});
type OrderStateValue = typeof OrderState.State;

/** The thread of a proposal's order stage (one per proposal, so a resume finds it). */
export const orderThreadId = (proposalId: string): string => `ord_${proposalId}`;
/** The approval id of a risk decision. */
export const approvalIdOf = (decisionId: string): string => `apv_${decisionId.replace(/^rd_/, '').slice(0, 24)}`;

const allows = (d: RiskDecision | null): d is RiskDecision => d !== null && d.action !== 'DENY' && d.finalQty > 0;

/**
 * The order stage of a proposal as a checkpointed LangGraph graph: risk_check -> human_approval -> place_order. With
 * execution.requireApproval the approval node stores a pending approval and stops the run with a
 * LangGraph interrupt; a human's answer resumes it from its checkpoint. The risk controller decided
 * first and its decision stands: a human can only turn an allowed order down, never enlarge it.
 */
function buildOrderGraph(env: SessionEnv) {
  const { db, config } = env;
  return new StateGraph(OrderState)
    .addNode('risk_check', async (s: OrderStateValue) => {
      // Stale or missing account data fails closed inside risk/ (null portfolio means HALTED).
      const portfolio = await buildPortfolioSnapshot(db, env.broker, config, { asOf: env.now() }).catch(() => null);
      const market = await marketSnapshot(db, s.proposal.ticker, s.proposal.asOf, config.settings);
      const decision = decide({ verdict: s.verdict, proposal: s.proposal, portfolio, market, rules: config.riskRules, now: env.now() });
      await recordRiskDecision(db, decision);
      return { decision };
    })
    .addNode('human_approval', async (s: OrderStateValue) => {
      if (!config.settings.execution.requireApproval || !allows(s.decision)) return {};
      const id = approvalIdOf(s.decision.id);
      // Idempotent: on resume the node runs again from its start, and the row is already there.
      const created = await db.query(
        `INSERT INTO approvals (id, run_id, verdict_id, status) VALUES ($1, $2, $3, 'pending') ON CONFLICT (id) DO NOTHING RETURNING id`,
        [id, s.runId, s.verdict.id],
      );
      if (created.rows.length > 0) await appendAudit(db, 'approval.requested', 'approval', id, { decision: s.decision.id, qty: s.decision.finalQty });
      const answer = ApprovalAnswer.parse(interrupt({ approvalId: id, ticker: s.proposal.ticker, side: s.decision.side, qty: s.decision.finalQty }));
      await db.query(`UPDATE approvals SET status = $2, decided_by = $3, reason = $4, decided_at = now() WHERE id = $1 AND status = 'pending'`, [
        id,
        answer.approve ? 'approved' : 'rejected',
        answer.by,
        answer.reason,
      ]);
      await appendAudit(db, answer.approve ? 'approval.approved' : 'approval.rejected', 'approval', id, { by: answer.by, reason: answer.reason });
      return { approval: { ...answer, id } };
    })
    .addNode('place_order', async (s: OrderStateValue) => {
      if (!allows(s.decision)) return { order: null };
      if (config.settings.execution.requireApproval && !s.approval?.approve) return { order: null };
      const intent = intentFromDecision(s.decision, s.sessionId, { now: env.now() });
      return { order: await submitIntent(db, env.broker, intent) };
    })
    .addEdge(START, 'risk_check')
    .addEdge('risk_check', 'human_approval')
    .addEdge('human_approval', 'place_order')
    .addEdge('place_order', END)
    .compile({ checkpointer: env.checkpointer });
}

export interface OrderStageResult {
  decision: RiskDecision | null;
  order: SubmitOutcome | null;
  /** Set while the run waits for a human. */
  pendingApproval: string | null;
}

function result(values: Partial<OrderStateValue>, interrupted: boolean): OrderStageResult {
  return {
    decision: values.decision ?? null,
    order: values.order ?? null,
    pendingApproval: interrupted && values.decision ? approvalIdOf(values.decision.id) : null,
  };
}

/** Runs (or continues) the order stage of a judged proposal. */
export async function runOrderStage(env: SessionEnv, input: { sessionId: string; proposal: Proposal; verdict: Verdict; runId: string | null }): Promise<OrderStageResult> {
  const graph = buildOrderGraph(env);
  const cfg = { configurable: { thread_id: orderThreadId(input.proposal.id) }, durability: 'sync' as const };
  const state = await graph.getState(cfg);
  if (state.next.length === 0 && state.values && 'decision' in state.values) {
    // Finished before (a retried job): the stored outcome stands.
    return result(state.values as OrderStateValue, false);
  }
  if (state.next.length > 0 && state.tasks.some((t) => t.interrupts.length > 0)) return result(state.values as OrderStateValue, true);
  const out = await graph.invoke({ ...input, decision: null, approval: null, order: null }, cfg);
  const after = await graph.getState(cfg);
  return result(out, after.next.length > 0);
}

const ApprovalRow = z.object({ id: z.string(), status: z.string(), proposal_id: z.string() });

/** Answers a pending approval and resumes its order stage from the checkpoint. */
export async function answerApproval(env: SessionEnv, approvalId: string, answer: ApprovalAnswer): Promise<OrderStageResult & { status: string }> {
  const res = await env.db.query(
    `SELECT a.id, a.status, v.proposal_id FROM approvals a JOIN verdicts v ON v.id = a.verdict_id WHERE a.id = $1`,
    [approvalId],
  );
  if (!res.rows[0]) throw new QuorumError('NOT_FOUND', `no approval ${approvalId}`);
  const row = ApprovalRow.parse(res.rows[0]);
  if (row.status !== 'pending') throw new QuorumError('CONFLICT', `approval ${approvalId} is already ${row.status}`);
  const graph = buildOrderGraph(env);
  const cfg = { configurable: { thread_id: orderThreadId(row.proposal_id) }, durability: 'sync' as const };
  const out = await graph.invoke(new Command({ resume: ApprovalAnswer.parse(answer) }), cfg);
  return { ...result(out, false), status: answer.approve ? 'approved' : 'rejected' };
}

/** Pending approvals with what they would order. */
export async function listApprovals(env: Pick<SessionEnv, 'db'>, status: 'pending' | 'approved' | 'rejected' | 'all' = 'pending'): Promise<Record<string, unknown>[]> {
  const res = await env.db.query(
    `SELECT a.id, a.status, a.decided_by, a.reason, a.created_at, a.decided_at, v.id AS verdict_id, v.decision AS verdict,
            v.size_multiplier, p.id AS proposal_id, p.ticker, p.side, r.id AS risk_decision_id, r.action, r.final_qty, r.stop, r.target
       FROM approvals a JOIN verdicts v ON v.id = a.verdict_id JOIN proposals p ON p.id = v.proposal_id
       LEFT JOIN risk_decisions r ON r.verdict_id = v.id
      WHERE $1 = 'all' OR a.status = $1 ORDER BY a.created_at`,
    [status],
  );
  return res.rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])));
}

