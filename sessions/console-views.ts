import { z } from 'zod';
import { AgentOpinion, Claim, Proposal, Verdict, parseJson } from '../contracts/index.ts';
import { JsonColumn, TimestampColumn, queryRow, queryRows, type Queryable } from '../db/index.ts';
import { FillRow, OrderRow, RiskDecisionRow, RuleResultRow, readFills, readRuleResults } from '../execution/index.ts';
import { ProposalRow, readProposal } from '../ml/index.ts';
import { RetrievalRow, ToolCallRow, readRunRetrievals, readRunToolCalls } from './committee-views.ts';

/**
 * Read models of the web console (web/, served by api/routes/console.ts): one proposal with all that
 * the console shows of it, a news item, and the equity history. Each has a zod schema the API publishes.
 */

/** What an agent's message carried: an opinion (stance, confidence, claims with evidence) or tool calls. */
const OpinionOutput = AgentOpinion.pick({ stance: true, confidence: true }).extend({
  summary: z.string().default(''),
  claims: z.array(Claim).default([]),
});
const ToolsOutput = z.object({ calls: z.array(z.object({ tool: z.string(), arguments: z.record(z.string(), z.unknown()).default({}) })) });

/** One agent's turn, readable: its opinion, the tools it called, or (neither) its text. */
export const DebateTurn = z.object({
  role: z.string(),
  agent: z.string(),
  round: z.number().int(),
  opinion: OpinionOutput.nullable(),
  calls: ToolsOutput.shape.calls,
  text: z.string(),
  created_at: TimestampColumn,
});
export type DebateTurn = z.infer<typeof DebateTurn>;

function debateTurn(m: z.infer<typeof MessageRow>): DebateTurn {
  // The stored output column when it holds the opinion, else the message text (JSON from the model or the rules baseline).
  const fromText = parseJson(m.content);
  const candidates: unknown[] = [fromText.ok ? fromText.value : null, m.output];
  const opinion = candidates.map((c) => OpinionOutput.safeParse(c)).find((r) => r.success) ?? OpinionOutput.safeParse(null);
  const tools = candidates.map((c) => ToolsOutput.safeParse(c)).find((r) => r.success) ?? ToolsOutput.safeParse(null);
  return {
    role: m.node,
    agent: m.agent,
    round: m.round,
    opinion: opinion.success ? opinion.data : null,
    calls: tools.success ? tools.data.calls : [],
    text: m.content,
    created_at: m.created_at,
  };
}

/** What a citation (an evidence id) points at: a news item or a tool call's result. */
export const Citation = z.object({
  id: z.string(),
  kind: z.enum(['news', 'tool']),
  target: z.string(),
  title: z.string(),
  published_at: z.string().nullable(),
});
export type Citation = z.infer<typeof Citation>;

export const BarPoint = z.object({ ts: TimestampColumn, close: z.number() });
export const OrderWithFills = OrderRow.extend({ fills: z.array(FillRow) });

export const ProposalDetail = z.object({
  proposal: ProposalRow,
  attributions: Proposal.shape.attributions,
  verdict: Verdict.nullable(),
  debate: z.array(DebateTurn),
  citations: z.array(Citation),
  retrievals: z.array(RetrievalRow),
  toolCalls: z.array(ToolCallRow),
  riskDecision: RiskDecisionRow.extend({ ruleResults: z.array(RuleResultRow) }).nullable(),
  orders: z.array(OrderWithFills),
  bars: z.array(BarPoint),
});
export type ProposalDetail = z.infer<typeof ProposalDetail>;

export const NewsItemView = z.object({
  id: z.string(),
  source: z.string(),
  title: z.string(),
  body: z.string(),
  url: z.string().nullable(),
  published_at: TimestampColumn,
});
export type NewsItemView = z.infer<typeof NewsItemView>;

export const EquityPoint = z.object({ ts: TimestampColumn, equity: z.number(), cash: z.number() });
export type EquityPoint = z.infer<typeof EquityPoint>;

const MessageRow = z.object({
  node: z.string(),
  agent: z.string(),
  round: z.number().int(),
  content: z.string(),
  output: JsonColumn.nullable(),
  created_at: TimestampColumn,
});
const RunRow = z.object({ id: z.string() });
const PayloadRow = z.object({ payload: JsonColumn });

/** The evidence id agents cite for a stored news item or tool call (`news:<id>`, `tool:<id>`; ids may carry the prefix already). */
const evidenceId = (kind: 'news' | 'tool', id: string): string => (id.startsWith(`${kind}:`) ? id : `${kind}:${id}`);

/** Days of closes drawn before the proposal and after it (the horizon plus a margin). */
const BARS_BEFORE_DAYS = 90;
const BARS_AFTER_DAYS = 30;

/** A proposal with its attributions, debate, citations, verdict, risk rules, orders and fills, and the ticker's closes; or null. */
export async function readProposalDetail(q: Queryable, proposalId: string): Promise<ProposalDetail | null> {
  const proposal = await readProposal(q, proposalId);
  if (!proposal) return null;
  const parsed = Proposal.safeParse(proposal.payload);
  const run = await queryRow(q, RunRow, 'SELECT id FROM committee_runs WHERE proposal_id = $1 ORDER BY started_at DESC LIMIT 1', [proposalId]);
  const [messages, retrievals, toolCalls] = run
    ? await Promise.all([
        queryRows(
          q,
          MessageRow,
          `SELECT node, agent, round, content, output, created_at FROM agent_messages WHERE run_id = $1 AND message_role = 'assistant' ORDER BY id`,
          [run.id],
        ),
        readRunRetrievals(q, run.id),
        readRunToolCalls(q, run.id),
      ])
    : [[], [], []];
  // The committee's own turn is the verdict, shown on its own.
  const debate = messages.filter((m) => m.node !== 'committee').map(debateTurn);
  const verdictRow = await queryRow(q, PayloadRow, 'SELECT payload FROM verdicts WHERE proposal_id = $1 ORDER BY created_at DESC LIMIT 1', [proposalId]);
  const verdict = verdictRow ? Verdict.safeParse(verdictRow.payload) : null;
  const citations: Citation[] = [
    ...[...new Map(retrievals.map((r) => [r.news_id, r])).values()].map((r): Citation => ({
      id: `news:${r.news_id.replace(/^news:/, '')}`,
      kind: 'news',
      target: r.news_id,
      title: r.title,
      published_at: r.published_at,
    })),
    ...toolCalls.map((t): Citation => ({ id: evidenceId('tool', t.id), kind: 'tool', target: t.id, title: t.tool, published_at: null })),
  ];
  const decision = await queryRow(
    q,
    RiskDecisionRow,
    `SELECT id, verdict_id, proposal_id, action, requested_qty, final_qty, stop, target, trading_state, payload, created_at FROM risk_decisions WHERE proposal_id = $1 ORDER BY created_at DESC LIMIT 1`,
    [proposalId],
  );
  const orders = decision
    ? await queryRows(
        q,
        OrderRow,
        `SELECT o.id, o.client_order_id, o.ticker, o.side, o.qty, o.status, o.filled_qty, o.filled_avg_price, o.intent_id, o.broker, o.order_type,
                o.order_class, o.parent_id, o.submitted_at, o.updated_at, o.raw
           FROM orders o JOIN order_intents i ON i.id = o.intent_id WHERE i.risk_decision_id = $1 ORDER BY o.submitted_at NULLS LAST`,
        [decision.id],
      )
    : [];
  const bars = await queryRows(
    q,
    BarPoint,
    `SELECT ts, close FROM bars WHERE ticker = $1 AND timeframe = '1Day'
        AND ts BETWEEN $2::timestamptz - make_interval(days => $3) AND $2::timestamptz + make_interval(days => $4) ORDER BY ts`,
    [proposal.ticker, proposal.as_of, BARS_BEFORE_DAYS, proposal.horizon_days + BARS_AFTER_DAYS],
  );
  return {
    proposal,
    attributions: parsed.success ? parsed.data.attributions : [],
    verdict: verdict?.success ? verdict.data : null,
    debate,
    citations,
    retrievals,
    toolCalls,
    riskDecision: decision ? { ...decision, ruleResults: await readRuleResults(q, decision.id) } : null,
    orders: await Promise.all(orders.map(async (o) => ({ ...o, fills: await readFills(q, o.id) }))),
    bars,
  };
}

/** A news item by id (with or without the `news:` prefix of an evidence id), or null. */
export function readNewsItem(q: Queryable, id: string): Promise<NewsItemView | null> {
  return queryRow(q, NewsItemView, 'SELECT id, source, title, body, url, published_at FROM news_items WHERE id = $1 OR id = $2', [
    id,
    id.replace(/^news:/, ''),
  ]);
}

/** One tool call of a committee run with the news items it retrieved (what a `tool:<id>` citation opens). */
export const ToolCallView = ToolCallRow.extend({ retrievals: z.array(RetrievalRow) });
export type ToolCallView = z.infer<typeof ToolCallView>;

/** A tool call by id (with or without the `tool:` prefix) and its retrieved news, or null. */
export async function readToolCall(q: Queryable, id: string): Promise<ToolCallView | null> {
  const call = await queryRow(
    q,
    ToolCallRow,
    'SELECT id, run_id, agent, tool, args, ok, error_code, result_digest, result_chars, latency_ms, created_at FROM tool_calls WHERE id = $1 OR id = $2',
    [id, id.replace(/^tool:/, '')],
  );
  if (!call) return null;
  const retrievals = await queryRows(
    q,
    RetrievalRow,
    `SELECT r.rank, r.score, r.query, r.as_of, r.ticker, n.id AS news_id, n.title, n.published_at, n.source, n.url
       FROM retrievals r JOIN news_items n ON n.id = r.news_id WHERE r.tool_call_id = $1 ORDER BY r.rank`,
    [call.id],
  );
  return { ...call, retrievals };
}

/** The equity history, oldest first (at most `limit` readings, the latest ones). */
export function readEquityHistory(q: Queryable, limit: number): Promise<EquityPoint[]> {
  return queryRows(q, EquityPoint, 'SELECT ts, equity, cash FROM (SELECT ts, equity, cash FROM equity_history ORDER BY ts DESC LIMIT $1) e ORDER BY ts', [
    limit,
  ]);
}
