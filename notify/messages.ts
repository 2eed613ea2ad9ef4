import { z } from 'zod';
import type { NotificationEvent } from '../config/index.ts';
import { JsonColumn, TimestampColumn } from '../db/index.ts';

/** An audit event as the notifier reads it (audit_events row). */
export const AuditEventRow = z.object({
  id: z.coerce.number().int().positive(),
  at: TimestampColumn,
  kind: z.string(),
  entity: z.string(),
  entity_id: z.string(),
  payload: JsonColumn.nullable(),
});
export type AuditEventRow = z.infer<typeof AuditEventRow>;

/** What one audit event says, ready for any target: a short subject and a one-paragraph text. */
export interface Message {
  /** The audit event's id: a receiver dedupes on it (delivery is at least once). */
  id: number;
  event: NotificationEvent;
  /** When the event was recorded (ISO 8601). */
  at: string;
  subject: string;
  text: string;
  /** The event's entity and its audit payload, as stored. */
  data: Record<string, unknown>;
}

/** The generic webhook body: the message as it is. */
export type WebhookBody = Message;

/** Slack's incoming-webhook body: the fallback text plus one simple section block. */
export interface SlackBody {
  text: string;
  blocks: Array<{ type: 'section'; text: { type: 'mrkdwn'; text: string } }>;
}

const str = z.string().min(1);
const num = z.number();
const SessionCompleted = z.object({
  proposals: num.optional(),
  verdicts: num.optional(),
  decisions: num.optional(),
  orders: num.optional(),
  report: z.object({ html: str.optional(), markdown: str.optional() }).optional(),
});
const WithError = z.object({ error: z.string().optional() });
const ApprovalRequested = z.object({ decision: str.optional(), ticker: str.optional(), side: str.optional(), qty: num.optional() });
const OrderRejected = z.object({
  clientOrderId: str.optional(),
  ticker: str.optional(),
  side: str.optional(),
  qty: num.optional(),
  error: z.string().optional(),
  brokerStatus: z.string().optional(),
  orderId: z.string().optional(),
});
const TradingStateChanged = z.object({ from: str.optional(), to: str, reason: z.string().optional(), actor: z.string().optional() });
const PositionMismatch = z.object({ mismatches: z.array(z.object({ ticker: str, broker: num, local: num })).optional() });

const ModelAbstained = z.object({ session: z.string().optional(), healthScore: num.optional(), threshold: num.optional(), reason: z.string().optional() });
const BreakerTripped = z.object({
  rules: z.array(z.string()).optional(),
  reason: z.string().optional(),
  modelId: z.string().optional(),
  trippedAt: z.string().optional(),
  consecutiveLosses: num.optional(),
  hitRate: num.nullable().optional(),
  limits: z.object({ maxConsecutiveLosses: num.optional(), minHitRate: num.optional(), hitRateWindow: num.optional() }).optional(),
});

const SessionSkipped = z.object({
  reason: z.string().optional(),
  report: z.object({ html: z.string().optional(), markdown: z.string().optional() }).optional(),
});

function payloadOf(row: AuditEventRow): Record<string, unknown> {
  const p = row.payload;
  return p !== null && typeof p === 'object' && !Array.isArray(p) ? p : {};
}

/** "BUY 12 AAPL", or what is known of it. */
function orderWords(p: { side?: string | undefined; qty?: number | undefined; ticker?: string | undefined }): string {
  return [p.side?.toUpperCase(), p.qty, p.ticker].filter((w) => w !== undefined).join(' ') || 'an order';
}

/**
 * The message of an audit event of a notified kind, or null when there is nothing to tell (another
 * kind, or a trading-state write that left the state as it was).
 */
export function messageOf(row: AuditEventRow): Message | null {
  const payload = payloadOf(row);
  const base = { id: row.id, at: row.at, data: { entity: row.entity, entityId: row.entity_id, ...payload } };
  const id = row.entity_id;
  switch (row.kind) {
    case 'session.completed': {
      const p = SessionCompleted.safeParse(payload).data ?? {};
      const counts = `${p.proposals ?? 0} proposals judged, ${p.verdicts ?? 0} verdicts, ${p.decisions ?? 0} risk decisions, ${p.orders ?? 0} orders.`;
      const report = p.report?.html ?? p.report?.markdown;
      return { ...base, event: 'session.completed', subject: `Session ${id} completed`, text: report ? `${counts} Report: ${report}` : counts };
    }
    case 'session.skipped': {
      const p = SessionSkipped.safeParse(payload).data ?? {};
      const report = p.report?.html ?? p.report?.markdown;
      return {
        ...base,
        event: 'session.skipped',
        subject: `Session ${id} traded nothing`,
        text: `${p.reason ?? 'no reason was recorded'}${report ? ` Report: ${report}` : ''}`,
      };
    }
    case 'session.failed': {
      const p = WithError.safeParse(payload).data ?? {};
      return { ...base, event: 'session.failed', subject: `Session ${id} failed`, text: p.error ?? 'no error message was recorded' };
    }
    case 'approval.requested': {
      const p = ApprovalRequested.safeParse(payload).data ?? {};
      return {
        ...base,
        event: 'approval.requested',
        subject: `Approval pending: ${orderWords(p)}`,
        text: `Approval ${id} waits for a human answer: \`quorum approvals\`, or POST /v1/approvals/${id} with a control token.`,
      };
    }
    case 'order.rejected': {
      const p = OrderRejected.safeParse(payload).data ?? {};
      const why = p.error ?? (p.brokerStatus ? `broker status ${p.brokerStatus}` : 'no reason given');
      return {
        ...base,
        event: 'order.rejected',
        subject: `Order rejected: ${orderWords(p)}`,
        text: `The broker refused order ${p.clientOrderId ?? id}: ${why}`,
      };
    }
    case 'trading_state.changed': {
      const parsed = TradingStateChanged.safeParse(payload);
      if (!parsed.success || parsed.data.from === parsed.data.to) return null;
      const p = parsed.data;
      const subject = p.to === 'HALTED' ? 'Trading HALTED' : p.to === 'ACTIVE' ? 'Trading resumed (ACTIVE)' : `Trading ${p.to}`;
      const by = p.actor ? ` (by ${p.actor})` : '';
      return { ...base, event: 'trading_state.changed', subject, text: `${p.from ?? '?'} -> ${p.to}: ${p.reason ?? 'no reason given'}${by}` };
    }
    case 'reconcile.failed': {
      const p = WithError.safeParse(payload).data ?? {};
      return {
        ...base,
        event: 'reconcile.failed',
        subject: `Reconciliation with ${id} failed`,
        text: `${p.error ?? 'no error message was recorded'}. Trading is HALTED until a clean reconciliation.`,
      };
    }
    case 'reconcile.position_mismatch': {
      const p = PositionMismatch.safeParse(payload).data ?? {};
      const detail = (p.mismatches ?? []).map((m) => `${m.ticker} broker=${m.broker} local=${m.local}`).join(', ') || 'positions differ';
      return { ...base, event: 'reconcile.position_mismatch', subject: `Reconciliation with ${id}: positions differ`, text: `${detail}. Trading is HALTED.` };
    }
    case 'model.abstained': {
      const p = ModelAbstained.safeParse(payload).data ?? {};
      const score = p.healthScore === undefined ? '' : ` (health ${p.healthScore.toFixed(3)}${p.threshold === undefined ? '' : ` < ${p.threshold}`})`;
      return {
        ...base,
        event: 'model.abstained',
        subject: `Model ${id} abstains${score}`,
        text: `${p.reason ?? 'the model is unhealthy'}${p.session ? ` Session ${p.session} traded nothing.` : ''}`,
      };
    }
    case 'breaker.tripped': {
      const p = BreakerTripped.safeParse(payload).data ?? {};
      const rules = (p.rules ?? []).join(' and ') || 'a circuit breaker';
      const hit = p.hitRate === undefined || p.hitRate === null ? '' : `, hit rate ${p.hitRate.toFixed(3)}`;
      const limits = p.limits
        ? ` Limits: ${p.limits.maxConsecutiveLosses || 'off'} losses in a row, hit rate floor ${p.limits.minHitRate || 'off'} over ${p.limits.hitRateWindow ?? '?'} trades.`
        : '';
      return {
        ...base,
        event: 'breaker.tripped',
        subject: `Circuit breaker ${rules} tripped by model ${p.modelId ?? 'unknown'}: the book is REDUCING`,
        text: `${p.reason ?? 'a breaker tripped'} (${p.consecutiveLosses ?? 0} losing trade(s) in a row${hit}; the trade closed ${p.trippedAt ?? 'at an unknown time'}). Only orders that reduce a position pass until the closed trades clear it.${limits}`,
      };
    }
    default:
      return null;
  }
}

export function webhookBody(m: Message): WebhookBody {
  return { id: m.id, event: m.event, at: m.at, subject: m.subject, text: m.text, data: m.data };
}

/** Slack mrkdwn treats &, < and > as control characters. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A section block's text may hold 3,000 characters. */
const SLACK_SECTION_MAX = 3000;

export function slackBody(m: Message): SlackBody {
  const section = `*${slackEscape(m.subject)}*\n${slackEscape(m.text)}`;
  return {
    text: slackEscape(`${m.subject}: ${m.text}`),
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: section.length > SLACK_SECTION_MAX ? `${section.slice(0, SLACK_SECTION_MAX - 1)}…` : section } }],
  };
}
