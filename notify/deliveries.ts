import { z } from 'zod';
import { queryRow, queryRows, NullableTimestampColumn, TimestampColumn, type Db, type Queryable } from '../db/index.ts';
import { AuditEventRow } from './messages.ts';

/**
 * The notifier's tables (migration 0060): the cursor over the audit log and one delivery row per
 * (audit event, target). Every write here is idempotent or guarded by the row's status, so two
 * notifiers on one database, or a restarted one, never record a delivery twice.
 */

export const DeliveryStatus = z.enum(['pending', 'delivered', 'failed']);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;
export const DELIVERY_STATUSES = DeliveryStatus.options;

const CursorRow = z.object({ last_event_id: z.coerce.number().int() });

/** Creates the cursor at the newest audit event (first start: earlier events are not sent) and returns it. */
export async function initCursor(q: Queryable): Promise<number> {
  await q.query(`INSERT INTO notification_cursor (id, last_event_id) SELECT 1, coalesce(max(id), 0) FROM audit_events ON CONFLICT (id) DO NOTHING`);
  return readCursor(q);
}

export async function readCursor(q: Queryable): Promise<number> {
  const row = await queryRow(q, CursorRow, 'SELECT last_event_id FROM notification_cursor WHERE id = 1');
  return row?.last_event_id ?? 0;
}

/** Moves the cursor forward (never back: a second notifier may be ahead). */
export async function advanceCursor(q: Queryable, to: number): Promise<void> {
  await q.query('UPDATE notification_cursor SET last_event_id = greatest(last_event_id, $1::bigint), updated_at = now() WHERE id = 1', [to]);
}

/** Audit events after `after`, in id order; the payload only of the kinds asked for. */
export function eventsAfter(q: Queryable, after: number, kinds: readonly string[], limit: number): Promise<AuditEventRow[]> {
  return queryRows(
    q,
    AuditEventRow,
    `SELECT id, at, kind, entity, entity_id, CASE WHEN kind = ANY($2::text[]) THEN payload END AS payload
       FROM audit_events WHERE id > $1::bigint ORDER BY id LIMIT $3`,
    [after, [...kinds], limit],
  );
}

/** One pending delivery per (event, target); an existing row (any status) is left alone. */
export async function enqueueDelivery(q: Queryable, eventId: number, target: string): Promise<void> {
  await q.query('INSERT INTO notification_deliveries (event_id, target) VALUES ($1::bigint, $2) ON CONFLICT (event_id, target) DO NOTHING', [eventId, target]);
}

export const ClaimedDelivery = AuditEventRow.extend({
  delivery_id: z.coerce.number().int(),
  target: z.string(),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
});
export type ClaimedDelivery = z.infer<typeof ClaimedDelivery>;

/**
 * Takes up to `limit` pending deliveries of `targets` that no live notifier holds, holding them for
 * `leaseMs`, with their audit events. A holder that dies lets its rows go when the lease ends.
 */
export function claimDeliveries(q: Queryable, targets: readonly string[], limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  return queryRows(
    q,
    ClaimedDelivery,
    `WITH claimed AS (
       UPDATE notification_deliveries d SET locked_until = now() + make_interval(secs => $3::float8 / 1000), updated_at = now()
        WHERE d.id IN (SELECT id FROM notification_deliveries
                        WHERE status = 'pending' AND target = ANY($1::text[]) AND (locked_until IS NULL OR locked_until < now())
                        ORDER BY event_id, id LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING d.id, d.event_id, d.target, d.attempts, d.last_error)
     SELECT c.id AS delivery_id, c.target, c.attempts, c.last_error, e.id, e.at, e.kind, e.entity, e.entity_id, e.payload
       FROM claimed c JOIN audit_events e ON e.id = c.event_id ORDER BY e.id, c.target`,
    [[...targets], limit, leaseMs],
  );
}

/** One failed POST: counted, its error kept, the row held for the wait before the next one. */
export async function recordFailedAttempt(q: Queryable, deliveryId: number, error: string, leaseMs: number): Promise<void> {
  await q.query(
    `UPDATE notification_deliveries SET attempts = attempts + 1, last_error = $2, updated_at = now(),
            locked_until = now() + make_interval(secs => $3::float8 / 1000)
      WHERE id = $1::bigint AND status = 'pending'`,
    [deliveryId, error, leaseMs],
  );
}

/** The successful POST: counted, and the row is done for good. */
export async function markDelivered(q: Queryable, deliveryId: number): Promise<void> {
  await q.query(
    `UPDATE notification_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = now(), updated_at = now(), locked_until = NULL
      WHERE id = $1::bigint AND status = 'pending'`,
    [deliveryId],
  );
}

/** No attempt left (or a refusal no retry can change): failed, with the last error. */
export async function markFailed(q: Queryable, deliveryId: number, error: string): Promise<void> {
  await q.query(
    `UPDATE notification_deliveries SET status = 'failed', last_error = $2, updated_at = now(), locked_until = NULL
      WHERE id = $1::bigint AND status = 'pending'`,
    [deliveryId, error],
  );
}

/** Lets a held row go at once (a notifier stopping between attempts), for the next notifier to take. */
export async function releaseDelivery(q: Queryable, deliveryId: number): Promise<void> {
  await q.query(`UPDATE notification_deliveries SET locked_until = NULL, updated_at = now() WHERE id = $1::bigint AND status = 'pending'`, [deliveryId]);
}

/** Puts failed deliveries (of one target, or all) back to pending with a fresh count of attempts. */
export async function requeueFailed(db: Db, target?: string): Promise<number> {
  const res = await db.query(
    `UPDATE notification_deliveries SET status = 'pending', attempts = 0, locked_until = NULL, updated_at = now()
      WHERE status = 'failed' AND ($1::text IS NULL OR target = $1::text)`,
    [target ?? null],
  );
  return res.rowCount;
}

/** A delivery as the CLI and the API list it. */
export const DeliveryView = z.object({
  id: z.coerce.number().int(),
  eventId: z.coerce.number().int(),
  kind: z.string(),
  target: z.string(),
  status: DeliveryStatus,
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  createdAt: TimestampColumn,
  updatedAt: TimestampColumn,
  deliveredAt: NullableTimestampColumn,
});
export type DeliveryView = z.infer<typeof DeliveryView>;

/** The newest deliveries first, optionally of one status. */
export function listDeliveries(q: Queryable, filter: { status?: DeliveryStatus; limit?: number } = {}): Promise<DeliveryView[]> {
  return queryRows(
    q,
    DeliveryView,
    `SELECT d.id, d.event_id AS "eventId", e.kind, d.target, d.status, d.attempts, d.last_error AS "lastError",
            d.created_at AS "createdAt", d.updated_at AS "updatedAt", d.delivered_at AS "deliveredAt"
       FROM notification_deliveries d JOIN audit_events e ON e.id = d.event_id
      WHERE ($1::text IS NULL OR d.status = $1::text) ORDER BY d.id DESC LIMIT $2`,
    [filter.status ?? null, filter.limit ?? 50],
  );
}
