import { z } from 'zod';
import { queryRows, type Queryable } from '../db/index.ts';

/**
 * What /metrics reports from the database at scrape time (so every process reports the same totals):
 * counts over sessions/, graph/ and execution/ tables. The SQL lives here, beside the other read models.
 */

const COUNTS = {
  sessionsByStatus: 'SELECT status AS label, count(*)::int AS n FROM sessions GROUP BY status',
  verdictsByDecision: 'SELECT decision AS label, count(*)::int AS n FROM verdicts GROUP BY decision',
  riskDenialsByRule: 'SELECT rule AS label, count(*)::int AS n FROM risk_rule_results WHERE NOT passed GROUP BY rule',
  ordersByStatus: 'SELECT status AS label, count(*)::int AS n FROM orders GROUP BY status',
} as const;
export type CountKind = keyof typeof COUNTS;

export const CountRow = z.object({ label: z.string(), n: z.number() });
export type CountRow = z.infer<typeof CountRow>;

/** One of the business counts, by label. */
export function readCounts(q: Queryable, kind: CountKind): Promise<CountRow[]> {
  return queryRows(q, CountRow, COUNTS[kind]);
}

export const LlmUsageRow = z.object({ agent: z.string(), calls: z.number(), promptTokens: z.number(), completionTokens: z.number(), latencyMs: z.number() });
export type LlmUsageRow = z.infer<typeof LlmUsageRow>;

/** LLM calls, tokens and latency by agent (assistant messages of every committee run). */
export function readLlmUsage(q: Queryable): Promise<LlmUsageRow[]> {
  return queryRows(
    q,
    LlmUsageRow,
    `SELECT agent, count(*)::int AS "calls", coalesce(sum(tokens_prompt), 0)::float8 AS "promptTokens",
            coalesce(sum(tokens_completion), 0)::float8 AS "completionTokens", coalesce(sum(latency_ms), 0)::float8 AS "latencyMs"
       FROM agent_messages WHERE message_role = 'assistant' GROUP BY agent`,
  );
}
