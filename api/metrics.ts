import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import type { Db } from '../db/index.ts';

const CountRow = z.object({ label: z.string(), n: z.coerce.number() });
const SumRow = z.object({ label: z.string(), n: z.coerce.number(), prompt: z.coerce.number(), completion: z.coerce.number(), latency: z.coerce.number() });

/**
 * Prometheus metrics. Request counters are kept in process; the business gauges (sessions, verdicts
 * by decision, risk denials by rule, LLM tokens and latency) are read from the database at scrape
 * time, so every worker process reports the same totals.
 */
export function createMetrics(db: Db): { registry: Registry; httpRequests: Counter; httpDuration: Histogram } {
  const registry = new Registry();
  const httpRequests = new Counter({ name: 'quorum_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const httpDuration = new Histogram({
    name: 'quorum_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });

  const counted = (name: string, help: string, label: string, sql: string): void => {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        this.reset();
        const res = await db.query(sql);
        for (const row of res.rows) {
          const r = CountRow.parse(row);
          this.set({ [label]: r.label }, r.n);
        }
      },
    });
  };
  counted('quorum_sessions', 'Committee sessions by status', 'status', 'SELECT status AS label, count(*) AS n FROM sessions GROUP BY status');
  counted('quorum_verdicts', 'Verdicts by decision', 'decision', 'SELECT decision AS label, count(*) AS n FROM verdicts GROUP BY decision');
  counted(
    'quorum_risk_denials',
    'Failed risk rules by rule',
    'rule',
    'SELECT rule AS label, count(*) AS n FROM risk_rule_results WHERE NOT passed GROUP BY rule',
  );
  counted('quorum_orders', 'Orders by status', 'status', 'SELECT status AS label, count(*) AS n FROM orders GROUP BY status');

  const llmSql = `SELECT agent AS label, count(*) AS n, coalesce(sum(tokens_prompt), 0) AS prompt,
      coalesce(sum(tokens_completion), 0) AS completion, coalesce(sum(latency_ms), 0) AS latency
    FROM agent_messages WHERE message_role = 'assistant' GROUP BY agent`;
  const llmGauge = (name: string, help: string, pick: (r: z.infer<typeof SumRow>) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['agent'],
      registers: [registry],
      async collect() {
        this.reset();
        const res = await db.query(llmSql);
        for (const row of res.rows) {
          const r = SumRow.parse(row);
          this.set({ agent: r.label }, pick(r));
        }
      },
    });
  };
  llmGauge('quorum_llm_calls', 'LLM calls by agent', (r) => r.n);
  llmGauge('quorum_llm_prompt_tokens', 'LLM prompt tokens by agent', (r) => r.prompt);
  llmGauge('quorum_llm_completion_tokens', 'LLM completion tokens by agent', (r) => r.completion);
  llmGauge('quorum_llm_latency_seconds_sum', 'Total LLM latency by agent, seconds', (r) => r.latency / 1000);

  return { registry, httpRequests, httpDuration };
}
