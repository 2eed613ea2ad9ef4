import type { Queryable } from '../../db/index.ts';
import type { Verdict } from '../../contracts/index.ts';

/** Ids of a complete, hand-written audit chain (order back to model and features). */
export const CHAIN = {
  session: 'ses_test1',
  snapshot: 'fs_test1',
  proposal: 'prp_test1',
  run: 'run_test1',
  news: 'news:abc123def456',
  toolCall: 'tool:tc1',
  verdict: 'vrd_test1',
  decision: 'rsk_test1',
  intent: 'int_test1',
  clientOrderId: 'q-test-0001',
  order: 'ord_test1',
  fill: 'fill_test1',
} as const;

export const CHAIN_VERDICT: Verdict = {
  id: CHAIN.verdict,
  proposalId: CHAIN.proposal,
  decision: 'REDUCE',
  sizeMultiplier: 0.5,
  confidence: 0.7,
  reasons: [{ text: 'uptrend but crude news is mixed', evidence: [CHAIN.news, CHAIN.toolCall] }],
  dissent: ['bear: valuation stretched'],
  backend: 'rules',
  model: 'rules-v1',
  promptVersion: 'abc123abc123',
  tokens: { prompt: 0, completion: 0 },
  abstainReason: null,
  createdAt: '1999-06-01T20:00:00.000Z',
};

/** Inserts one row per link of the chain, as a session would have stored them. */
export async function seedChain(q: Queryable): Promise<void> {
  await q.query(
    `INSERT INTO models (id, version, stage, path, sha256, card) VALUES ('gbt-dow30', 'v1', 'production', 'models/default/model.onnx', 'deadbeef', '{"features":["ret_1"]}')`,
  );
  await q.query(`INSERT INTO sessions (id, kind, as_of, status, backend) VALUES ($1, 'manual', '1999-06-01T20:00:00Z', 'completed', 'rules')`, [CHAIN.session]);
  await q.query(
    `INSERT INTO feature_snapshots (id, feature_set, feature_set_version, as_of, tickers, feature_names, payload)
     VALUES ($1, 'close-v1', 'fsv1', '1999-06-01T20:00:00Z', ARRAY['XOM'], ARRAY['ret_1'], '{}')`,
    [CHAIN.snapshot],
  );
  await q.query(
    `INSERT INTO proposals (id, session_id, ticker, side, probability, expected_return, horizon_days, model_id, model_version, feature_snapshot_id, as_of, payload)
     VALUES ($1, $2, 'XOM', 'buy', 0.62, 0.01, 5, 'gbt-dow30', 'v1', $3, '1999-06-01T20:00:00Z', '{}')`,
    [CHAIN.proposal, CHAIN.session, CHAIN.snapshot],
  );
  await q.query(`INSERT INTO committee_runs (id, session_id, proposal_id, thread_id, backend, status) VALUES ($1, $2, $3, 'thr1', 'rules', 'completed')`, [
    CHAIN.run,
    CHAIN.session,
    CHAIN.proposal,
  ]);
  await q.query(
    `INSERT INTO agent_messages (run_id, node, agent, message_role, content, prompt_version, tokens_prompt, tokens_completion, latency_ms)
     VALUES ($1, 'analyst', 'analyst', 'assistant', '{"stance":"support"}', 'abc123abc123', 900, 120, 1500)`,
    [CHAIN.run],
  );
  await q.query(
    `INSERT INTO news_items (id, source, title, published_at, content_hash) VALUES ($1, 'reuters', 'Crude prices cut', '1999-05-30T12:00:00Z', 'h1')`,
    [CHAIN.news],
  );
  await q.query(
    `INSERT INTO tool_calls (id, run_id, agent, tool, args, ok, result_digest, result_chars, latency_ms) VALUES ($1, $2, 'analyst', 'news_search', '{"query":"crude"}', true, 'abc', 100, 3)`,
    [CHAIN.toolCall, CHAIN.run],
  );
  await q.query(
    `INSERT INTO retrievals (run_id, tool_call_id, query, as_of, ticker, news_id, rank, score) VALUES ($1, $2, 'crude', '1999-06-01T20:00:00Z', 'XOM', $3, 1, 0.8)`,
    [CHAIN.run, CHAIN.toolCall, CHAIN.news],
  );
  await q.query(
    `INSERT INTO verdicts (id, run_id, proposal_id, decision, size_multiplier, confidence, backend, model, prompt_version, payload)
     VALUES ($1, $2, $3, 'REDUCE', 0.5, 0.7, 'rules', 'rules-v1', 'abc123abc123', $4)`,
    [CHAIN.verdict, CHAIN.run, CHAIN.proposal, JSON.stringify(CHAIN_VERDICT)],
  );
  await q.query(
    `INSERT INTO risk_decisions (id, verdict_id, proposal_id, action, requested_qty, final_qty, stop, target, trading_state, payload)
     VALUES ($1, $2, $3, 'RESIZE', 40, 25, 58.1, 66.3, 'ACTIVE', '{"limitedBy": ["MAX_POSITION_PCT"]}')`,
    [CHAIN.decision, CHAIN.verdict, CHAIN.proposal],
  );
  await q.query(
    `INSERT INTO risk_rule_results (decision_id, rule, passed, detail) VALUES
       ($1, 'MAX_POSITIONS', true, 'MAX_POSITIONS: open=3 limit=12'),
       ($1, 'MAX_POSITION_PCT', false, 'MAX_POSITION_PCT: 12.1% > 10% -> resized')`,
    [CHAIN.decision],
  );
  await q.query(
    `INSERT INTO order_intents (id, client_order_id, session_id, risk_decision_id, ticker, side, qty, order_type, status, payload)
     VALUES ($1, $2, $3, $4, 'XOM', 'buy', 25, 'market', 'filled', '{}')`,
    [CHAIN.intent, CHAIN.clientOrderId, CHAIN.session, CHAIN.decision],
  );
  await q.query(
    `INSERT INTO orders (id, client_order_id, intent_id, broker, ticker, side, qty, order_type, status, filled_qty, filled_avg_price)
     VALUES ($1, $2, $3, 'paper-exchange', 'XOM', 'buy', 25, 'market', 'filled', 25, 62.1)`,
    [CHAIN.order, CHAIN.clientOrderId, CHAIN.intent],
  );
  await q.query(`INSERT INTO fills (id, order_id, ticker, side, qty, price, filled_at) VALUES ($1, $2, 'XOM', 'buy', 25, 62.1, '1999-06-02T13:30:00Z')`, [
    CHAIN.fill,
    CHAIN.order,
  ]);
}
