import { z } from 'zod';
import { JsonColumn, NullableTimestampColumn, TimestampColumn, queryRow, queryRows, type Queryable } from '../db/index.ts';
import { OrderSummary, RiskDecisionSummary, readSessionOrders, readSessionRiskDecisions } from '../execution/index.ts';
import { ModelHealthView, ProposalSummary, readSessionModelHealth, readSessionProposals } from '../ml/index.ts';
import { VerdictSummary, readSessionVerdicts } from './committee-views.ts';

/** Read models of the sessions table (sessions/ writes it), each with a zod schema the API publishes. */

export const SessionSummary = z.object({
  id: z.string(),
  kind: z.enum(['scheduled', 'manual', 'demo', 'api', 'backtest']),
  slot: z.string().nullable(),
  as_of: TimestampColumn,
  status: z.enum(['running', 'completed', 'failed', 'awaiting_approval', 'skipped']),
  backend: z.string().nullable(),
  stats: JsonColumn,
  report_path: z.string().nullable(),
  started_at: TimestampColumn,
  finished_at: NullableTimestampColumn,
});
export type SessionSummary = z.infer<typeof SessionSummary>;

export const SessionRow = SessionSummary.extend({ config: JsonColumn, error: z.string().nullable() });
export type SessionRow = z.infer<typeof SessionRow>;

/** A session with its proposals, verdicts, risk decisions and orders. */
export const SessionView = SessionRow.extend({
  proposals: z.array(ProposalSummary),
  verdicts: z.array(VerdictSummary),
  riskDecisions: z.array(RiskDecisionSummary),
  orders: z.array(OrderSummary),
  /** The proposer's drift and health as the session measured them, and the gate's decision (null: not measured). */
  modelHealth: ModelHealthView.nullable(),
});
export type SessionView = z.infer<typeof SessionView>;

const SUMMARY_COLUMNS = 'id, kind, slot, as_of, status, backend, stats, report_path, started_at, finished_at';

/** Sessions, newest first. */
export function listSessions(q: Queryable, limit: number, offset: number): Promise<SessionSummary[]> {
  return queryRows(q, SessionSummary, `SELECT ${SUMMARY_COLUMNS} FROM sessions ORDER BY started_at DESC LIMIT $1 OFFSET $2`, [limit, offset]);
}

/** A session with its proposals, verdicts, risk decisions and orders, or null. */
export async function readSession(q: Queryable, id: string): Promise<SessionView | null> {
  const session = await queryRow(q, SessionRow, `SELECT ${SUMMARY_COLUMNS}, config, error FROM sessions WHERE id = $1`, [id]);
  if (!session) return null;
  const [proposals, verdicts, riskDecisions, orders, modelHealth] = await Promise.all([
    readSessionProposals(q, id),
    readSessionVerdicts(q, id),
    readSessionRiskDecisions(q, id),
    readSessionOrders(q, id),
    readSessionModelHealth(q, id),
  ]);
  return { ...session, proposals, verdicts, riskDecisions, orders, modelHealth };
}
