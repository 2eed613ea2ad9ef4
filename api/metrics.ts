import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/index.ts';
import { readCounts, readLlmUsage, readNotificationCounts, type CountKind, type LlmUsageRow } from '../sessions/index.ts';

/**
 * Prometheus metrics. Request counters are kept in process; the business gauges (sessions, verdicts
 * by decision, risk denials by rule, LLM tokens and latency, notification deliveries by status) are
 * read from the database at scrape time (sessions/metrics-views.ts, notify/metrics-views.ts), so
 * every worker process reports the same totals.
 */
export function createMetrics(db: Db): { registry: Registry; httpRequests: Counter; httpDuration: Histogram } {
  const registry = new Registry();
  const httpRequests = new Counter({
    name: 'quorum_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'quorum_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });

  const counted = (name: string, help: string, label: string, kind: CountKind): void => {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        this.reset();
        for (const r of await readCounts(db, kind)) this.set({ [label]: r.label }, r.n);
      },
    });
  };
  counted('quorum_sessions', 'Committee sessions by status', 'status', 'sessionsByStatus');
  counted('quorum_verdicts', 'Verdicts by decision', 'decision', 'verdictsByDecision');
  counted('quorum_risk_denials', 'Failed risk rules by rule', 'rule', 'riskDenialsByRule');
  counted('quorum_orders', 'Orders by status', 'status', 'ordersByStatus');

  const llmGauge = (name: string, help: string, pick: (r: LlmUsageRow) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['agent'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const r of await readLlmUsage(db)) this.set({ agent: r.agent }, pick(r));
      },
    });
  };
  llmGauge('quorum_llm_calls', 'LLM calls by agent', (r) => r.calls);
  llmGauge('quorum_llm_prompt_tokens', 'LLM prompt tokens by agent', (r) => r.promptTokens);
  llmGauge('quorum_llm_completion_tokens', 'LLM completion tokens by agent', (r) => r.completionTokens);
  llmGauge('quorum_llm_latency_seconds_sum', 'Total LLM latency by agent, seconds', (r) => r.latencyMs / 1000);

  new Gauge({
    name: 'quorum_notifications',
    help: 'Notification deliveries (audit event x target) by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await readNotificationCounts(db)) this.set({ status: r.status }, r.n);
    },
  });

  return { registry, httpRequests, httpDuration };
}
