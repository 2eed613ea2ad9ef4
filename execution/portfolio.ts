import { z } from 'zod';
import { PortfolioSnapshot } from '../contracts/index.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import type { Broker } from './broker.ts';
import { getTradingState } from './trading-state.ts';

const BUSINESS_DAYS_PDT = 5;

function businessDaysBack(fromIso: string, n: number): string {
  let t = Date.parse(fromIso);
  let left = n;
  while (left > 0) {
    t -= 86_400_000;
    const day = new Date(t).getUTCDay();
    if (day !== 0 && day !== 6) left--;
  }
  return new Date(t).toISOString().slice(0, 10);
}

/**
 * The account as the risk controller sees it, read from the broker (account, positions, open
 * orders) and from our store (unresolved intents count as open orders, today's orders for the
 * throttle, day trades from fills, peak equity, the kill switch). `asOf` is when the account was
 * read: the controller fails closed when it is stale. Each call also appends the equity to
 * equity_history (for the drawdown limit).
 */
export async function buildPortfolioSnapshot(
  db: Db,
  broker: Broker,
  config: Pick<Config, 'settings'>,
  options: { asOf?: string } = {},
): Promise<PortfolioSnapshot> {
  const account = await broker.getAccount();
  const [positions, openOrders, state] = await Promise.all([broker.listPositions(), broker.listOpenOrders(), getTradingState(db)]);
  // A simulated session (demo, backtest) reads the account at its own clock, not the wall clock.
  const asOf = options.asOf ?? account.readAt;
  await db.query(`INSERT INTO equity_history (ts, equity, cash, source) VALUES ($1, $2, $3, $4) ON CONFLICT (ts) DO NOTHING`, [
    asOf,
    account.equity,
    account.cash,
    broker.name,
  ]);
  // Point in time: a session dated before others that already ran sees neither their equity nor their orders.
  const peakRes = await db.query('SELECT max(equity) AS peak FROM equity_history WHERE ts <= $1', [asOf]);
  const peak = z.object({ peak: z.number().nullable() }).parse(peakRes.rows[0]).peak ?? account.equity;

  const opened = await db.query('SELECT ticker, opened_at FROM positions');
  const openedAt = new Map(
    opened.rows.map((r) => {
      const row = z.object({ ticker: z.string(), opened_at: z.coerce.date().nullable() }).parse(r);
      return [row.ticker, row.opened_at?.toISOString() ?? null] as const;
    }),
  );
  const sectors = config.settings.market.sectors;

  const snapshotOrders = openOrders.map((o) => {
    // A bracket whose entry has filled works only through its exit legs (a stop and a target, one
    // cancelling the other): an order that reduces the position by the filled quantity, not a second entry.
    const exitsOnly = o.orderClass === 'bracket' && o.legs.length > 0 && o.filledQty >= o.qty - 1e-9;
    const opposite = o.side === 'buy' ? 'sell' : 'buy';
    return {
      ticker: o.symbol,
      side: exitsOnly ? opposite : o.side,
      qty: exitsOnly ? o.filledQty : o.qty - o.filledQty > 0 ? o.qty - o.filledQty : o.qty,
      clientOrderId: o.clientOrderId,
      submittedAt: o.submittedAt ?? asOf,
    };
  });
  // An intent whose outcome is unknown may be an order at the broker: count it (fail closed).
  const pending = await db.query(`SELECT payload, created_at FROM order_intents WHERE status IN ('pending', 'submitted', 'unknown')`);
  for (const r of pending.rows) {
    const row = z
      .object({
        payload: z.object({ ticker: z.string(), side: z.enum(['buy', 'sell']), qty: z.number(), clientOrderId: z.string() }).passthrough(),
        created_at: z.coerce.date(),
      })
      .parse(r);
    if (snapshotOrders.some((o) => o.clientOrderId === row.payload.clientOrderId)) continue;
    snapshotOrders.push({
      ticker: row.payload.ticker,
      side: row.payload.side,
      qty: row.payload.qty,
      clientOrderId: row.payload.clientOrderId,
      submittedAt: row.created_at.toISOString(),
    });
  }

  const dayStart = `${asOf.slice(0, 10)}T00:00:00Z`;
  // An intent's time is its decision clock (payload createdAt), not when the row was written: a demo's are its as-of.
  const recent = await db.query(
    `SELECT payload->>'createdAt' AS at FROM order_intents
      WHERE (payload->>'createdAt')::timestamptz >= $1 AND (payload->>'createdAt')::timestamptz <= $2 ORDER BY 1`,
    [dayStart, asOf],
  );
  const recentOrderTimes = recent.rows.map((r) => new Date(z.object({ at: z.string() }).parse(r).at).toISOString());

  // A day trade: a ticker bought and sold on the same day, counted over the last 5 business days.
  const since = businessDaysBack(asOf, BUSINESS_DAYS_PDT - 1);
  const dt = await db.query(
    `SELECT count(*)::int AS n FROM (
       SELECT ticker, filled_at::date AS d FROM fills WHERE filled_at::date >= $1::date AND filled_at <= $2
        GROUP BY ticker, filled_at::date HAVING count(DISTINCT side) = 2) t`,
    [since, asOf],
  );
  const dayTrades = z.object({ n: z.coerce.number() }).parse(dt.rows[0]).n;

  return PortfolioSnapshot.parse({
    asOf,
    equity: account.equity,
    cash: account.cash,
    buyingPower: account.buyingPower,
    lastEquity: account.lastEquity,
    peakEquity: Math.max(peak, account.equity),
    positions: positions.map((p) => ({
      ticker: p.symbol,
      qty: p.qty,
      avgPrice: p.avgEntryPrice,
      marketPrice: p.currentPrice,
      sector: sectors[p.symbol] ?? null,
      openedAt: openedAt.get(p.symbol) ?? null,
    })),
    openOrders: snapshotOrders,
    dayTradesLast5Days: dayTrades,
    recentOrderTimes,
    tradingState: account.tradingBlocked ? 'HALTED' : state.state,
  });
}
