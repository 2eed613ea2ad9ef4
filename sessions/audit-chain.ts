import { z } from 'zod';
import type { Queryable } from '../db/index.ts';
import {
  FillRow,
  IntentRow,
  OrderRow,
  RiskDecisionRow,
  RuleResultRow,
  readFills,
  readIntent,
  readOrder,
  readRiskDecision,
  readRuleResults,
} from '../execution/index.ts';
import { FeatureSnapshotSummary, ModelRow, ProposalRow, readFeatureSnapshot, readModel, readProposal } from '../ml/index.ts';
import {
  AgentMessageRow,
  CommitteeRunRow,
  OutcomeRetrievalRow,
  RetrievalRow,
  ToolCallRow,
  VerdictRow,
  readCommitteeRun,
  readRunMessages,
  readRunOutcomeRetrievals,
  readRunRetrievals,
  readRunToolCalls,
  readVerdictRow,
} from './committee-views.ts';

/** The links an audit chain may lack, by name. */
export const AuditLink = z.enum(['intent', 'riskDecision', 'ruleResults', 'verdict', 'committeeRun', 'transcript', 'proposal', 'model', 'featureSnapshot']);
export type AuditLink = z.infer<typeof AuditLink>;

/**
 * The whole chain behind an order: order → intent → risk decision and every rule's result → verdict →
 * committee transcript (messages, tool calls) → retrieved news → proposal → model and feature snapshot.
 * It spans every stage's tables, so it lives in sessions/, the one folder that may know them all.
 */
export const AuditChain = z.object({
  order: OrderRow,
  fills: z.array(FillRow),
  intent: IntentRow.nullable(),
  riskDecision: RiskDecisionRow.extend({ ruleResults: z.array(RuleResultRow) }).nullable(),
  verdict: VerdictRow.nullable(),
  committeeRun: CommitteeRunRow.extend({ messages: z.array(AgentMessageRow), toolCalls: z.array(ToolCallRow) }).nullable(),
  retrievals: z.array(RetrievalRow),
  /** Past outcomes the run's outcome memory returned (ADR 0035); empty without memory. */
  outcomeRetrievals: z.array(OutcomeRetrievalRow),
  proposal: ProposalRow.nullable(),
  model: ModelRow.nullable(),
  featureSnapshot: FeatureSnapshotSummary.nullable(),
  /** The absent links (an order placed by hand has no intent, for example). */
  missing: z.array(AuditLink),
});
export type AuditChain = z.infer<typeof AuditChain>;

/** The audit chain of an order (by order id or client_order_id), or null when there is no such order. */
export async function auditChainForOrder(q: Queryable, orderId: string): Promise<AuditChain | null> {
  const order = await readOrder(q, orderId);
  if (!order) return null;
  const missing: AuditLink[] = [];
  const need = <T>(link: AuditLink, value: T | null): T | null => {
    if (value === null) missing.push(link);
    return value;
  };
  const intent = need('intent', await readIntent(q, order.client_order_id));
  const riskDecision = need('riskDecision', intent?.risk_decision_id ? await readRiskDecision(q, intent.risk_decision_id) : null);
  const ruleResults = riskDecision ? await readRuleResults(q, riskDecision.id) : [];
  if (riskDecision && ruleResults.length === 0) missing.push('ruleResults');
  const verdict = need('verdict', riskDecision ? await readVerdictRow(q, riskDecision.verdict_id) : null);
  const run = need('committeeRun', verdict?.run_id ? await readCommitteeRun(q, verdict.run_id) : null);
  const [messages, toolCalls, retrievals, outcomeRetrievals] = run
    ? await Promise.all([readRunMessages(q, run.id), readRunToolCalls(q, run.id), readRunRetrievals(q, run.id), readRunOutcomeRetrievals(q, run.id)])
    : [[], [], [], []];
  if (run && messages.length === 0) missing.push('transcript');
  const proposalId = verdict?.proposal_id ?? riskDecision?.proposal_id ?? null;
  const proposal = need('proposal', proposalId ? await readProposal(q, proposalId) : null);
  const model = need('model', proposal ? await readModel(q, proposal.model_id, proposal.model_version) : null);
  const featureSnapshot = need('featureSnapshot', proposal ? await readFeatureSnapshot(q, proposal.feature_snapshot_id) : null);
  return {
    order,
    fills: await readFills(q, order.id),
    intent,
    riskDecision: riskDecision ? { ...riskDecision, ruleResults } : null,
    verdict,
    committeeRun: run ? { ...run, messages, toolCalls } : null,
    retrievals,
    outcomeRetrievals,
    proposal,
    model,
    featureSnapshot,
    missing,
  };
}
