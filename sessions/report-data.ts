import { z } from 'zod';
import { parseJson, QuorumError } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { InputRefresh } from './refresh.ts';

const date = z.coerce.date().transform((d) => d.toISOString());
const num = z.coerce.number();

export const ReportRule = z.object({ rule: z.string(), passed: z.boolean(), detail: z.string() });
export const ReportItem = z.object({
  proposalId: z.string(),
  ticker: z.string(),
  side: z.string(),
  probability: num,
  expectedReturn: num,
  verdict: z
    .object({
      id: z.string(),
      decision: z.string(),
      sizeMultiplier: num,
      confidence: num,
      backend: z.string(),
      reasons: z.array(z.string()),
      abstainReason: z.string().nullable(),
    })
    .nullable(),
  debate: z.array(z.object({ agent: z.string(), round: num, summary: z.string() })),
  /** The news items the verdict's reasons cite, oldest first. */
  cited: z.array(z.object({ id: z.string(), publishedAt: date, source: z.string(), title: z.string(), url: z.string().nullable() })),
  risk: z
    .object({
      id: z.string(),
      action: z.string(),
      requestedQty: num,
      finalQty: num,
      stop: num.nullable(),
      target: num.nullable(),
      rules: z.array(ReportRule),
      /** On RESIZE, the rules whose cap set the final quantity. */
      limitedBy: z.array(z.string()),
    })
    .nullable(),
  orders: z.array(z.object({ id: z.string(), side: z.string(), qty: num, status: z.string(), filledQty: num, filledAvgPrice: num.nullable() })),
});
export type ReportItem = z.infer<typeof ReportItem>;

export const AgentUsage = z.object({ agent: z.string(), calls: num, promptTokens: num, completionTokens: num, latencyMs: num });
export type AgentUsage = z.infer<typeof AgentUsage>;

export const ReportData = z.object({
  session: z.object({
    id: z.string(),
    kind: z.string(),
    asOf: date,
    status: z.string(),
    backend: z.string().nullable(),
    startedAt: date,
    finishedAt: date.nullable(),
    /** Why a skipped session traded nothing, or why a failed one failed. */
    error: z.string().nullable(),
    /** What a live session refreshed before it proposed (null for a session at a past time). */
    inputs: InputRefresh.nullable(),
  }),
  items: z.array(ReportItem),
  usage: z.array(AgentUsage),
  equity: z.array(z.object({ ts: date, equity: num })),
  generatedAt: z.string(),
});
export type ReportData = z.infer<typeof ReportData>;

/** The `summary` of an agent's JSON answer, or the start of its text. */
function summaryOf(content: string): string {
  const parsed = parseJson(content);
  if (parsed.ok && typeof parsed.value === 'object' && parsed.value !== null) {
    const v = parsed.value as Record<string, unknown>;
    if (typeof v.summary === 'string') return v.summary;
  }
  return content.length > 280 ? `${content.slice(0, 277)}...` : content;
}

const VerdictPayload = z
  .object({
    reasons: z.array(z.object({ text: z.string(), evidence: z.array(z.string()).default([]) })).default([]),
    abstainReason: z.string().nullable().default(null),
  })
  .passthrough();

/** Everything a session report shows, read from what the session stored. */
export async function loadReportData(db: Db, sessionId: string, now: string): Promise<ReportData> {
  const s = await db.query('SELECT id, kind, as_of, status, backend, started_at, finished_at, error, inputs FROM sessions WHERE id = $1', [sessionId]);
  const row = s.rows[0];
  if (!row) throw new QuorumError('NOT_FOUND', `no session ${sessionId}`);
  const proposals = await db.query(
    'SELECT id, ticker, side, probability, expected_return FROM proposals WHERE session_id = $1 ORDER BY probability DESC, ticker',
    [sessionId],
  );
  const items: ReportItem[] = [];
  for (const p of proposals.rows) {
    const proposalId = z.string().parse(p.id);
    const v = (
      await db.query(
        'SELECT id, decision, size_multiplier, confidence, backend, run_id, payload FROM verdicts WHERE proposal_id = $1 ORDER BY created_at DESC LIMIT 1',
        [proposalId],
      )
    ).rows[0];
    const payload = v ? VerdictPayload.parse(v.payload) : null;
    const debate = v?.run_id
      ? (await db.query(`SELECT agent, round, content FROM agent_messages WHERE run_id = $1 AND message_role = 'assistant' ORDER BY id`, [v.run_id])).rows.map(
          (m) => ({ agent: z.string().parse(m.agent), round: num.parse(m.round), summary: summaryOf(z.string().parse(m.content)) }),
        )
      : [];
    const newsIds = [...new Set(payload?.reasons.flatMap((x) => x.evidence.filter((e) => e.startsWith('news:'))) ?? [])];
    const cited = newsIds.length
      ? (
          await db.query('SELECT id, published_at, source, title, url FROM news_items WHERE id = ANY($1::text[]) ORDER BY published_at, id', [newsIds])
        ).rows.map((n) => ({ id: n.id, publishedAt: n.published_at, source: n.source, title: n.title, url: n.url }))
      : [];
    const r = (
      await db.query(
        "SELECT id, action, requested_qty, final_qty, stop, target, coalesce(payload->'limitedBy', '[]'::jsonb) AS limited_by FROM risk_decisions WHERE proposal_id = $1 ORDER BY created_at DESC LIMIT 1",
        [proposalId],
      )
    ).rows[0];
    const rules = r ? (await db.query('SELECT rule, passed, detail FROM risk_rule_results WHERE decision_id = $1 ORDER BY passed, rule', [r.id])).rows : [];
    const orders = r
      ? (
          await db.query(
            `SELECT o.id, o.side, o.qty, o.status, o.filled_qty, o.filled_avg_price FROM orders o
               JOIN order_intents i ON i.client_order_id = o.client_order_id WHERE i.risk_decision_id = $1`,
            [r.id],
          )
        ).rows
      : [];
    items.push(
      ReportItem.parse({
        proposalId,
        ticker: p.ticker,
        side: p.side,
        probability: p.probability,
        expectedReturn: p.expected_return,
        verdict: v
          ? {
              id: v.id,
              decision: v.decision,
              sizeMultiplier: v.size_multiplier,
              confidence: v.confidence,
              backend: v.backend,
              reasons: payload?.reasons.map((x) => x.text) ?? [],
              abstainReason: payload?.abstainReason ?? null,
            }
          : null,
        debate,
        cited,
        risk: r
          ? { id: r.id, action: r.action, requestedQty: r.requested_qty, finalQty: r.final_qty, stop: r.stop, target: r.target, rules, limitedBy: r.limited_by }
          : null,
        orders: orders.map((o) => ({ id: o.id, side: o.side, qty: o.qty, status: o.status, filledQty: o.filled_qty, filledAvgPrice: o.filled_avg_price })),
      }),
    );
  }
  const usage = await db.query(
    `SELECT m.agent, count(*) AS calls, coalesce(sum(m.tokens_prompt), 0) AS prompt, coalesce(sum(m.tokens_completion), 0) AS completion,
            coalesce(sum(m.latency_ms), 0) AS latency
       FROM agent_messages m JOIN committee_runs r ON r.id = m.run_id
      WHERE r.session_id = $1 AND m.message_role = 'assistant' GROUP BY m.agent ORDER BY m.agent`,
    [sessionId],
  );
  const equity = await db.query('SELECT ts, equity FROM equity_history WHERE ts <= $1 ORDER BY ts', [row.finished_at ?? now]);
  return ReportData.parse({
    session: {
      id: row.id,
      kind: row.kind,
      asOf: row.as_of,
      status: row.status,
      backend: row.backend,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      error: row.error,
      inputs: row.inputs,
    },
    items,
    usage: usage.rows.map((u) => ({ agent: u.agent, calls: u.calls, promptTokens: u.prompt, completionTokens: u.completion, latencyMs: u.latency })),
    equity: equity.rows.map((e) => ({ ts: e.ts, equity: e.equity })),
    generatedAt: now,
  });
}
