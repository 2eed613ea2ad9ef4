import type { Db } from '../db/index.ts';
import { auditChainForOrder as typedAuditChain } from '../sessions/index.ts';

/**
 * Moved: the read models live with the folders that own their tables, behind sessions/
 * (sessions/read-models.ts, each with its zod row schema). This shim keeps `cli/commands/audit.ts`,
 * which reads the chain by key, working until it imports `auditChainForOrder` from sessions/.
 * @deprecated import from sessions/index.ts.
 */
export async function auditChainForOrder(db: Db, orderId: string): Promise<Record<string, unknown> | null> {
  return typedAuditChain(db, orderId);
}
