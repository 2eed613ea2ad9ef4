import { z } from 'zod';
import { QuorumError, TradingState } from '../contracts/index.ts';
import { appendAudit, type Db, type Queryable } from '../db/index.ts';

const StateRow = z.object({ state: TradingState, reason: z.string(), updated_at: z.coerce.date() });

export interface TradingStateInfo {
  state: TradingState;
  reason: string;
  updatedAt: string;
}

/** The kill switch's current state (trading_state singleton). */
export async function getTradingState(q: Queryable): Promise<TradingStateInfo> {
  const res = await q.query('SELECT state, reason, updated_at FROM trading_state WHERE id = 1');
  // A missing row means nobody ever said trading may go on: fail closed.
  if (res.rows.length === 0) return { state: 'HALTED', reason: 'trading_state row missing', updatedAt: new Date(0).toISOString() };
  const row = StateRow.parse(res.rows[0]);
  return { state: row.state, reason: row.reason, updatedAt: row.updated_at.toISOString() };
}

/** Sets the kill switch (manual halt/resume, loss limits, reconciliation) with an audit event, in one transaction. */
export async function setTradingState(db: Db, state: TradingState, reason: string, actor: string): Promise<TradingStateInfo> {
  const reasonText = reason.trim();
  if (!reasonText) throw new QuorumError('INPUT_INVALID', 'reason: a reason is required to change the trading state');
  return db.transaction(async (tx) => {
    const before = await getTradingState(tx);
    await tx.query(
      `INSERT INTO trading_state (id, state, reason, updated_at) VALUES (1, $1, $2, now())
       ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason, updated_at = now()`,
      [state, reasonText],
    );
    await appendAudit(tx, 'trading_state.changed', 'trading_state', '1', { from: before.state, to: state, reason: reasonText, actor });
    return getTradingState(tx);
  });
}

/** Refuses a new order while HALTED (cancels and lookups are never refused). */
export async function assertCanSubmit(q: Queryable): Promise<void> {
  const s = await getTradingState(q);
  if (s.state === 'HALTED') throw new QuorumError('TRADING_HALTED', `trading is HALTED (${s.reason}): no new orders`, { reason: s.reason });
}

/** Reasons written by automatic halts of reconciliation; a later clean reconciliation lifts only these. */
export const RECONCILIATION_HALT_PREFIX = 'reconciliation';
