/**
 * Positions from flat to flat, rebuilt from the stored fills, each attributed to the proposal whose
 * order opened it and ended by the order that closed it: a bracket's stop or target leg, the exit
 * monitor's time or reversal exit, or another order. Outcome memory (ADR 0035) reads them to record
 * what a position actually did, known from its close time.
 */
import { z } from 'zod';
import { queryRows, TimestampColumn, type Queryable } from '../db/index.ts';

const EPS = 1e-9;

/** What closed a position. */
export type RoundTripExit = 'stop' | 'target' | 'time' | 'reversal' | 'other';

/** A stored fill with the proposal behind its order (a bracket leg: its entry's) and what kind of exit its order was. */
export interface ProposalFill {
  id: string;
  ticker: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  filledAt: string;
  /** Null for an order no proposal stands behind (an exit, a reconciliation import). */
  proposalId: string | null;
  /** The exit this fill's order was, when it closes a position. */
  exit: RoundTripExit;
}

/** One position from flat to flat on one ticker. */
export interface RoundTrip {
  ticker: string;
  side: 'long' | 'short';
  /** The proposal of the fill that opened it. */
  proposalId: string | null;
  openedAt: string;
  closedAt: string;
  /** Mean price of the opening fills and of the closing fills, by quantity. */
  entryPrice: number;
  exitPrice: number;
  /** The exit of the fill that brought the position back to zero. */
  exit: RoundTripExit;
}

/** The part of a fill the flat-to-flat walk reads. */
interface WalkFill {
  id: string;
  ticker: string;
  side: 'buy' | 'sell';
  qty: number;
  filledAt: string;
}

/** What a walk does with one ticker's position: open it, add a fill's part to it, close it. */
export interface FlatToFlat<F extends WalkFill, P> {
  /** A fill that takes the position off zero, with the `qty` of it that opens (all, or the rest after a cross). */
  open(f: F, qty: number): P;
  /** `take` shares of `f` that add to the position (`reducing` false) or shrink it. */
  add(position: P, f: F, take: number, reducing: boolean): void;
  /** `f` brought the position back to zero. */
  close(position: P, f: F): void;
}

/**
 * Walks fills (deduplicated by id, by fill time then id) per ticker from flat to flat: a position opens
 * when it leaves zero and closes when it comes back; a fill that crosses zero closes one position and
 * opens the next with its rest. The circuit breakers' closed trades and outcome memory's round trips
 * both read fills this way.
 */
export function walkFlatToFlat<F extends WalkFill, P>(fills: readonly F[], on: FlatToFlat<F, P>): void {
  const ordered = [...new Map(fills.map((f) => [f.id, f])).values()].sort(
    (a, b) => Date.parse(a.filledAt) - Date.parse(b.filledAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const open = new Map<string, { qty: number; position: P }>();
  for (const f of ordered) {
    const sign = f.side === 'buy' ? 1 : -1;
    let rest = f.qty;
    while (rest > EPS) {
      const cur = open.get(f.ticker);
      if (!cur || Math.abs(cur.qty) < EPS) {
        open.set(f.ticker, { qty: sign * rest, position: on.open(f, rest) });
        break;
      }
      const reducing = Math.sign(cur.qty) !== sign;
      const take = reducing ? Math.min(rest, Math.abs(cur.qty)) : rest;
      on.add(cur.position, f, take, reducing);
      cur.qty += sign * take;
      rest -= take;
      if (Math.abs(cur.qty) < EPS) {
        on.close(cur.position, f);
        open.delete(f.ticker);
      }
    }
  }
}

/**
 * Round trips from fills (walkFlatToFlat), each with its mean entry and exit prices. Positions still
 * open are not returned.
 */
export function roundTripsFrom(fills: readonly ProposalFill[]): RoundTrip[] {
  interface Open {
    side: 'long' | 'short';
    inQty: number;
    inCost: number;
    outQty: number;
    outCost: number;
    proposalId: string | null;
    openedAt: string;
  }
  const out: RoundTrip[] = [];
  walkFlatToFlat<ProposalFill, Open>(fills, {
    open: (f, qty) => ({
      side: f.side === 'buy' ? 'long' : 'short',
      inQty: qty,
      inCost: qty * f.price,
      outQty: 0,
      outCost: 0,
      proposalId: f.proposalId,
      openedAt: f.filledAt,
    }),
    add: (cur, f, take, reducing) => {
      if (reducing) {
        cur.outQty += take;
        cur.outCost += take * f.price;
      } else {
        cur.inQty += take;
        cur.inCost += take * f.price;
      }
    },
    close: (cur, f) =>
      void out.push({
        ticker: f.ticker,
        side: cur.side,
        proposalId: cur.proposalId,
        openedAt: cur.openedAt,
        closedAt: f.filledAt,
        entryPrice: cur.inCost / cur.inQty,
        exitPrice: cur.outCost / cur.outQty,
        exit: f.exit,
      }),
  });
  return out;
}

/** The columns of a stored fill that every reader of round trips takes (alias `f`). */
export const StoredFillRow = z.object({
  id: z.string(),
  ticker: z.string(),
  side: z.enum(['buy', 'sell']),
  qty: z.number(),
  price: z.number(),
  filled_at: TimestampColumn,
});

/** The fields of a fill read through StoredFillRow. */
export function storedFill(r: z.infer<typeof StoredFillRow>): Pick<ProposalFill, 'id' | 'ticker' | 'side' | 'qty' | 'price' | 'filledAt'> {
  return { id: r.id, ticker: r.ticker, side: r.side, qty: r.qty, price: r.price, filledAt: r.filled_at };
}

/**
 * From each stored fill to the proposal behind its order (a bracket leg: its entry's): order (`o`) ->
 * its parent (`parent`) -> intent -> risk decision -> proposal (`p`).
 */
export const FILLS_TO_PROPOSALS = `FROM fills f
       LEFT JOIN orders o ON o.id = f.order_id
       LEFT JOIN orders parent ON parent.id = o.parent_id
       LEFT JOIN order_intents i ON i.id = coalesce(o.intent_id, parent.intent_id)
       LEFT JOIN risk_decisions r ON r.id = i.risk_decision_id
       LEFT JOIN proposals p ON p.id = r.proposal_id`;

const FillRow = StoredFillRow.extend({
  proposal_id: z.string().nullable(),
  leg_type: z.string().nullable(),
  exit_kind: z.string().nullable(),
});

/** The exit of an order: a bracket leg by its type, the exit monitor's orders by their audit event. */
function exitOf(legType: string | null, exitKind: string | null): RoundTripExit {
  if (legType === 'stop' || legType === 'stop_limit' || legType === 'trailing_stop') return 'stop';
  if (legType === 'limit') return 'target';
  if (exitKind === 'exit.time_exit') return 'time';
  if (exitKind === 'exit.momentum_exit') return 'reversal';
  return 'other';
}

/** Every stored fill filled at or before `asOf`, with its proposal and exit kind. */
export async function loadProposalFills(q: Queryable, asOf: string): Promise<ProposalFill[]> {
  const rows = await queryRows(
    q,
    FillRow,
    `SELECT f.id, f.ticker, f.side, f.qty, f.price, f.filled_at, p.id AS proposal_id,
            CASE WHEN o.parent_id IS NOT NULL THEN o.order_type END AS leg_type,
            (SELECT a.kind FROM audit_events a WHERE a.kind IN ('exit.time_exit', 'exit.momentum_exit') AND a.payload->>'orderId' = o.id LIMIT 1) AS exit_kind
       ${FILLS_TO_PROPOSALS}
      WHERE f.filled_at <= $1::timestamptz
      ORDER BY f.filled_at, f.id`,
    [asOf],
  );
  return rows.map((r) => ({
    ...storedFill(r),
    proposalId: r.proposal_id,
    exit: exitOf(r.leg_type, r.exit_kind),
  }));
}
