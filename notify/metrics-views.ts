import { z } from 'zod';
import { queryRows, type Queryable } from '../db/index.ts';
import { DELIVERY_STATUSES, DeliveryStatus } from './deliveries.ts';

/** What /metrics reports of notifications, read from notification_deliveries at scrape time. */
export const NotificationCountRow = z.object({ status: DeliveryStatus, n: z.number() });
export type NotificationCountRow = z.infer<typeof NotificationCountRow>;

/** Deliveries by status, every status present (0 when none). */
export async function readNotificationCounts(q: Queryable): Promise<NotificationCountRow[]> {
  const rows = await queryRows(q, NotificationCountRow, 'SELECT status, count(*)::int AS n FROM notification_deliveries GROUP BY status');
  return DELIVERY_STATUSES.map((status) => ({ status, n: rows.find((r) => r.status === status)?.n ?? 0 }));
}
