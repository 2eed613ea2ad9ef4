import { z } from 'zod';
import { errorMessage } from '../contracts/index.ts';
import { appendAudit, type Db } from '../db/index.ts';
import type { Broker } from './broker.ts';
import { recordBrokerOrder, resolveIntent, syncOpenOrders, unresolvedIntents, type ResolveOptions } from './orders.ts';
import { loadPositions } from './positions.ts';
import { getTradingState, RECONCILIATION_HALT_PREFIX, setTradingState } from './trading-state.ts';

const QTY_TOLERANCE = 1e-6;

export interface ReconcileReport {
  ok: boolean;
  /** Intents whose outcome was settled (looked up, or posted once with the same client_order_id). */
  resolvedIntents: number;
  refreshedOrders: number;
  /** Broker orders we had no record of, now stored. */
  adoptedOrders: number;
  /** Tickers whose broker quantity differs from the quantity our fills give. */
  positionMismatches: Array<{ ticker: string; broker: number; local: number }>;
  error?: string;
}

/**
 * Startup reconciliation: settle unresolved intents, refresh open orders, adopt broker orders we do
 * not know, and compare broker positions with fill-derived ones. Any failure (e.g. the broker
 * answers 500) or a position mismatch sets trading_state HALTED: no trading until a clean run (which
 * lifts only a halt that reconciliation set) or a manual `quorum resume`.
 */
export async function reconcile(db: Db, broker: Broker, options: ResolveOptions = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { ok: false, resolvedIntents: 0, refreshedOrders: 0, adoptedOrders: 0, positionMismatches: [] };
  try {
    for (const stored of await unresolvedIntents(db)) {
      await resolveIntent(db, broker, stored, options);
      report.resolvedIntents++;
    }
    report.refreshedOrders = await syncOpenOrders(db, broker);
    for (const order of await broker.listOpenOrders()) {
      const known = await db.query('SELECT 1 FROM orders WHERE id = $1', [order.id]);
      if (known.rows.length > 0) continue;
      await recordBrokerOrder(db, order, broker.name);
      await appendAudit(db, 'reconcile.adopted_order', 'order', order.id, { clientOrderId: order.clientOrderId, symbol: order.symbol });
      report.adoptedOrders++;
    }
    const brokerPositions = await broker.listPositions();
    const local = new Map((await loadPositions(db)).map((p) => [p.ticker, p.qty]));
    const tickers = new Set([...local.keys(), ...brokerPositions.map((p) => p.symbol)]);
    for (const ticker of [...tickers].sort()) {
      const b = brokerPositions.find((p) => p.symbol === ticker)?.qty ?? 0;
      const l = local.get(ticker) ?? 0;
      if (Math.abs(b - l) > QTY_TOLERANCE) report.positionMismatches.push({ ticker, broker: b, local: l });
    }
  } catch (error) {
    report.error = errorMessage(error);
    await appendAudit(db, 'reconcile.failed', 'reconciliation', broker.name, { error: report.error });
    await setTradingState(db, 'HALTED', `${RECONCILIATION_HALT_PREFIX} failed: ${report.error}`.slice(0, 500), 'reconciliation');
    return report;
  }
  if (report.positionMismatches.length > 0) {
    const detail = report.positionMismatches.map((m) => `${m.ticker} broker=${m.broker} local=${m.local}`).join(', ');
    await appendAudit(db, 'reconcile.position_mismatch', 'reconciliation', broker.name, { mismatches: report.positionMismatches });
    await setTradingState(db, 'HALTED', `${RECONCILIATION_HALT_PREFIX}: position mismatch: ${detail}`.slice(0, 500), 'reconciliation');
    return report;
  }
  report.ok = true;
  await appendAudit(db, 'reconcile.ok', 'reconciliation', broker.name, {
    resolvedIntents: report.resolvedIntents,
    refreshedOrders: report.refreshedOrders,
    adoptedOrders: report.adoptedOrders,
  });
  const state = await getTradingState(db);
  if (state.state === 'HALTED' && state.reason.startsWith(RECONCILIATION_HALT_PREFIX)) {
    await setTradingState(db, 'ACTIVE', 'reconciliation succeeded', 'reconciliation');
  }
  return report;
}

/** Count of order intents by status (for `quorum orders` and reports). */
export async function intentCounts(db: Db): Promise<Record<string, number>> {
  const res = await db.query('SELECT status, count(*)::int AS n FROM order_intents GROUP BY status');
  const out: Record<string, number> = {};
  for (const r of res.rows) {
    const row = z.object({ status: z.string(), n: z.coerce.number() }).parse(r);
    out[row.status] = row.n;
  }
  return out;
}
