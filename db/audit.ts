import type { Queryable } from './db.ts';

/** Appends one event to the append-only audit log (the database refuses updates and deletes). */
export async function appendAudit(q: Queryable, kind: string, entity: string, entityId: string, payload: Record<string, unknown> = {}): Promise<void> {
  await q.query('INSERT INTO audit_events (kind, entity, entity_id, payload) VALUES ($1, $2, $3, $4)', [kind, entity, entityId, JSON.stringify(payload)]);
}
