import { z } from 'zod';
import type { Db, Queryable } from '../db/index.ts';
import type { DerivedPosition, Fill } from './schema.ts';

const EPS = 1e-9;

/**
 * Positions from fills. Fills are deduplicated by id and applied in (filledAt, id) order, so
 * replaying duplicated or shuffled fills gives exactly the same positions.
 */
export function derivePositions(fills: readonly Fill[]): DerivedPosition[] {
  const unique = new Map<string, Fill>();
  for (const f of fills) if (!unique.has(f.id)) unique.set(f.id, f);
  const ordered = [...unique.values()].sort((a, b) => {
    const t = Date.parse(a.filledAt) - Date.parse(b.filledAt);
    return t !== 0 ? t : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  const book = new Map<string, DerivedPosition>();
  for (const f of ordered) {
    const signed = f.side === 'buy' ? f.qty : -f.qty;
    const pos = book.get(f.ticker);
    if (!pos) {
      book.set(f.ticker, { ticker: f.ticker, qty: signed, avgPrice: f.price, openedAt: f.filledAt });
      continue;
    }
    const next = pos.qty + signed;
    if (Math.abs(next) < EPS) book.delete(f.ticker);
    else if (Math.sign(next) !== Math.sign(pos.qty)) book.set(f.ticker, { ticker: f.ticker, qty: next, avgPrice: f.price, openedAt: f.filledAt });
    else if (Math.abs(next) > Math.abs(pos.qty)) book.set(f.ticker, { ...pos, qty: next, avgPrice: (pos.qty * pos.avgPrice + signed * f.price) / next });
    else book.set(f.ticker, { ...pos, qty: next });
  }
  return [...book.values()].sort((a, b) => (a.ticker < b.ticker ? -1 : 1));
}

const FillRow = z.object({
  id: z.string(),
  order_id: z.string(),
  ticker: z.string(),
  side: z.enum(['buy', 'sell']),
  qty: z.number(),
  price: z.number(),
  commission: z.number(),
  filled_at: z.coerce.date(),
});

/** Every stored fill. */
export async function loadFills(q: Queryable): Promise<Fill[]> {
  const res = await q.query('SELECT id, order_id, ticker, side, qty, price, commission, filled_at FROM fills ORDER BY filled_at, id');
  return res.rows.map((r) => {
    const f = FillRow.parse(r);
    return {
      id: f.id,
      orderId: f.order_id,
      ticker: f.ticker,
      side: f.side,
      qty: f.qty,
      price: f.price,
      commission: f.commission,
      filledAt: f.filled_at.toISOString(),
    };
  });
}

/** Stores fills (a fill id seen before is ignored) and rebuilds the positions table from all fills. */
export async function recordFills(q: Queryable, fills: readonly Fill[]): Promise<number> {
  let inserted = 0;
  for (const f of fills) {
    const res = await q.query(
      `INSERT INTO fills (id, order_id, ticker, side, qty, price, commission, filled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO NOTHING`,
      [f.id, f.orderId, f.ticker, f.side, f.qty, f.price, f.commission, f.filledAt],
    );
    inserted += res.rowCount;
  }
  await rebuildPositions(q);
  return inserted;
}

/** Replaces the positions table with the positions derived from all stored fills. */
export async function rebuildPositions(q: Queryable): Promise<DerivedPosition[]> {
  const positions = derivePositions(await loadFills(q));
  await q.query('DELETE FROM positions');
  for (const p of positions) {
    await q.query('INSERT INTO positions (ticker, qty, avg_price, opened_at, updated_at) VALUES ($1, $2, $3, $4, now())', [
      p.ticker,
      p.qty,
      p.avgPrice,
      p.openedAt,
    ]);
  }
  return positions;
}

/** The stored (fill-derived) positions. */
export async function loadPositions(db: Db | Queryable): Promise<DerivedPosition[]> {
  const res = await db.query('SELECT ticker, qty, avg_price, opened_at FROM positions ORDER BY ticker');
  const Row = z.object({ ticker: z.string(), qty: z.number(), avg_price: z.number(), opened_at: z.coerce.date().nullable() });
  return res.rows.map((r) => {
    const p = Row.parse(r);
    return { ticker: p.ticker, qty: p.qty, avgPrice: p.avg_price, openedAt: (p.opened_at ?? new Date(0)).toISOString() };
  });
}
