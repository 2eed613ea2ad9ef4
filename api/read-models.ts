import { z } from 'zod';
import { Verdict } from '../contracts/index.ts';
import type { Db, Row } from '../db/index.ts';

/** Dates from either driver become ISO strings; everything else passes through. */
function plain(row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = v instanceof Date ? v.toISOString() : v;
  return out;
}

async function one(db: Db, sql: string, params: unknown[]): Promise<Record<string, unknown> | null> {
  const res = await db.query(sql, params);
  return res.rows[0] ? plain(res.rows[0]) : null;
}

async function many(db: Db, sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  const res = await db.query(sql, params);
  return res.rows.map(plain);
}

const PayloadRow = z.object({ payload: z.unknown() });

/** A stored verdict (the validated contract payload), or null. */
export async function getVerdict(db: Db, id: string): Promise<Verdict | null> {
  const res = await db.query('SELECT payload FROM verdicts WHERE id = $1', [id]);
  const row = res.rows[0];
  return row ? Verdict.parse(PayloadRow.parse(row).payload) : null;
}

export async function listSessions(db: Db, limit: number, offset: number): Promise<Record<string, unknown>[]> {
  return many(
    db,
    `SELECT id, kind, slot, as_of, status, backend, stats, report_path, started_at, finished_at
       FROM sessions ORDER BY started_at DESC LIMIT $1 OFFSET $2`,
    [limit, offset],
  );
}

/** A session with its proposals, verdicts, risk decisions and orders. */
export async function getSession(db: Db, id: string): Promise<Record<string, unknown> | null> {
  const session = await one(db, 'SELECT * FROM sessions WHERE id = $1', [id]);
  if (!session) return null;
  const [proposals, verdicts, riskDecisions, orders] = await Promise.all([
    many(db, 'SELECT id, ticker, side, probability, expected_return, horizon_days, model_id, model_version, as_of FROM proposals WHERE session_id = $1 ORDER BY probability DESC', [id]),
    many(
      db,
      `SELECT v.id, v.proposal_id, v.decision, v.size_multiplier, v.confidence, v.backend, v.model, v.prompt_version
         FROM verdicts v JOIN proposals p ON p.id = v.proposal_id WHERE p.session_id = $1`,
      [id],
    ),
    many(
      db,
      `SELECT r.id, r.verdict_id, r.proposal_id, r.action, r.requested_qty, r.final_qty, r.stop, r.target, r.trading_state
         FROM risk_decisions r JOIN proposals p ON p.id = r.proposal_id WHERE p.session_id = $1`,
      [id],
    ),
    many(
      db,
      `SELECT o.id, o.client_order_id, o.ticker, o.side, o.qty, o.status, o.filled_qty, o.filled_avg_price
         FROM orders o JOIN order_intents i ON i.client_order_id = o.client_order_id WHERE i.session_id = $1`,
      [id],
    ),
  ]);
  return { ...session, proposals, verdicts, riskDecisions, orders };
}

/**
 * The whole chain behind an order: order → intent → risk decision and every rule's result → verdict →
 * committee transcript (messages, tool calls) → retrieved news → proposal → model and feature snapshot.
 * `missing` names any link that is absent (an order placed by hand has no intent, for example).
 */
export async function auditChainForOrder(db: Db, orderId: string): Promise<Record<string, unknown> | null> {
  const order = await one(db, 'SELECT * FROM orders WHERE id = $1 OR client_order_id = $1', [orderId]);
  if (!order) return null;
  const missing: string[] = [];
  const need = <T>(name: string, value: T | null): T | null => {
    if (value === null) missing.push(name);
    return value;
  };
  const intent = need('intent', await one(db, 'SELECT * FROM order_intents WHERE client_order_id = $1', [order.client_order_id]));
  const riskDecision = intent?.risk_decision_id
    ? need('riskDecision', await one(db, 'SELECT * FROM risk_decisions WHERE id = $1', [intent.risk_decision_id]))
    : need('riskDecision', null);
  const ruleResults = riskDecision ? await many(db, 'SELECT rule, passed, detail FROM risk_rule_results WHERE decision_id = $1 ORDER BY rule', [riskDecision.id]) : [];
  if (riskDecision && ruleResults.length === 0) missing.push('ruleResults');
  const verdict = riskDecision ? need('verdict', await one(db, 'SELECT * FROM verdicts WHERE id = $1', [riskDecision.verdict_id])) : need('verdict', null);
  const run = verdict?.run_id ? need('committeeRun', await one(db, 'SELECT * FROM committee_runs WHERE id = $1', [verdict.run_id])) : need('committeeRun', null);
  const messages = run ? await many(db, 'SELECT node, agent, round, message_role, content, prompt_version, tokens_prompt, tokens_completion, latency_ms, created_at FROM agent_messages WHERE run_id = $1 ORDER BY id', [run.id]) : [];
  if (run && messages.length === 0) missing.push('transcript');
  const toolCalls = run ? await many(db, 'SELECT * FROM tool_calls WHERE run_id = $1 ORDER BY created_at', [run.id]) : [];
  const retrievals = run
    ? await many(
        db,
        `SELECT r.rank, r.score, r.query, r.as_of, r.ticker, n.id AS news_id, n.title, n.published_at, n.source, n.url
           FROM retrievals r JOIN news_items n ON n.id = r.news_id WHERE r.run_id = $1 ORDER BY r.id`,
        [run.id],
      )
    : [];
  const proposalId = verdict?.proposal_id ?? riskDecision?.proposal_id ?? null;
  const proposal = proposalId ? need('proposal', await one(db, 'SELECT * FROM proposals WHERE id = $1', [proposalId])) : need('proposal', null);
  const model = proposal
    ? need('model', await one(db, 'SELECT id, version, stage, path, sha256, card, created_at FROM models WHERE id = $1 AND version = $2', [proposal.model_id, proposal.model_version]))
    : need('model', null);
  const featureSnapshot = proposal
    ? need('featureSnapshot', await one(db, 'SELECT id, feature_set, feature_set_version, as_of, feature_names FROM feature_snapshots WHERE id = $1', [proposal.feature_snapshot_id]))
    : need('featureSnapshot', null);
  const fills = await many(db, 'SELECT * FROM fills WHERE order_id = $1 ORDER BY filled_at', [order.id]);
  return {
    order,
    fills,
    intent,
    riskDecision: riskDecision ? { ...riskDecision, ruleResults } : null,
    verdict,
    committeeRun: run ? { ...run, messages, toolCalls } : null,
    retrievals,
    proposal,
    model,
    featureSnapshot,
    missing,
  };
}

/** Positions, the trading state and the latest equity reading. */
export async function portfolioView(db: Db): Promise<Record<string, unknown>> {
  const [positions, state, equity] = await Promise.all([
    many(db, 'SELECT ticker, qty, avg_price, opened_at, updated_at FROM positions WHERE qty <> 0 ORDER BY ticker', []),
    one(db, 'SELECT state, reason, updated_at FROM trading_state WHERE id = 1', []),
    one(db, 'SELECT ts, equity, cash, source FROM equity_history ORDER BY ts DESC LIMIT 1', []),
  ]);
  return { positions, tradingState: state, equity };
}
