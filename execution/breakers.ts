/**
 * What the risk controller's circuit breakers read in live operation: the closed trades, rebuilt
 * from the stored fills (each round trip from flat to flat on one ticker, attributed to the model
 * whose proposal opened it), and the per-model kill switch (model_halts) beside the global one.
 */
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import { QuorumError, RuleResult } from '../contracts/index.ts';
import { appendAudit, queryRows, TimestampColumn, type Db, type Queryable } from '../db/index.ts';
import { FILLS_TO_PROPOSALS, StoredFillRow, storedFill, walkFlatToFlat } from './round-trips.ts';
import { circuitBreakerFor, currentTrip, type BreakerAssessment, type BreakerTrip, type CircuitBreakerRules, type ClosedTrade } from '../risk/index.ts';

/** A stored fill with the model id of the proposal behind its order (a bracket leg: its entry's). */
export interface AttributedFill {
  id: string;
  ticker: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  commission: number;
  filledAt: string;
  /** Null for an order no proposal stands behind (an exit, a reconciliation import). */
  modelId: string | null;
}

/** The model id of a trade nobody's proposal opened. */
export const UNATTRIBUTED_MODEL = 'unattributed';

/**
 * Closed trades from fills (execution/round-trips.ts walkFlatToFlat): a trade's P&L is the cash it
 * made, commissions paid (a fill's commission split by quantity where it crosses zero); its model is
 * the opening fill's.
 */
export function closedTradesFrom(fills: readonly AttributedFill[]): ClosedTrade[] {
  const out: ClosedTrade[] = [];
  const cashOf = (f: AttributedFill, qty: number): number => (f.side === 'buy' ? -1 : 1) * qty * f.price - (f.commission * qty) / f.qty;
  walkFlatToFlat<AttributedFill, { cash: number; modelId: string }>(fills, {
    open: (f, qty) => ({ cash: cashOf(f, qty), modelId: f.modelId ?? UNATTRIBUTED_MODEL }),
    add: (cur, f, take) => void (cur.cash += cashOf(f, take)),
    close: (cur, f) => void out.push({ modelId: cur.modelId, closedAt: f.filledAt, pnl: cur.cash }),
  });
  return out;
}

const FillRow = StoredFillRow.extend({ commission: z.number(), model_id: z.string().nullable() });

/** Every stored fill with its model (order -> its entry for a leg -> intent -> risk decision -> proposal). */
export async function loadAttributedFills(q: Queryable): Promise<AttributedFill[]> {
  const rows = await queryRows(
    q,
    FillRow,
    `SELECT f.id, f.ticker, f.side, f.qty, f.price, f.commission, f.filled_at, p.model_id
       ${FILLS_TO_PROPOSALS}
      ORDER BY f.filled_at, f.id`,
  );
  return rows.map((r) => ({ ...storedFill(r), commission: r.commission, modelId: r.model_id }));
}

/** The closed trades the breakers read, from the stored fills. */
export async function loadClosedTrades(q: Queryable): Promise<ClosedTrade[]> {
  return closedTradesFrom(await loadAttributedFills(q));
}

// ---- trips ---------------------------------------------------------------------------------------

/** A trip's name: its tripping trade's close and model, and the rules it tripped. */
export function tripKey(trip: BreakerTrip): string {
  return `${trip.trippedAt}|${trip.modelId}|${trip.rules.join(',')}`;
}

/**
 * Records the current trip of the breakers over `trades`, once: the first call for a trip writes
 * breaker_trips and the `breaker.tripped` audit event (what notify/ sends) in one transaction, and
 * returns the trip; later calls for the same trip, and calls with no trip, return null.
 */
export async function recordBreakerTrip(db: Db, trades: readonly ClosedTrade[], rules: CircuitBreakerRules): Promise<BreakerTrip | null> {
  const trip = currentTrip(trades, rules);
  if (!trip) return null;
  const key = tripKey(trip);
  const detail = {
    rules: trip.rules,
    reason: trip.reason,
    modelId: trip.modelId,
    models: trip.models,
    trippedAt: trip.trippedAt,
    consecutiveLosses: trip.consecutiveLosses,
    hitRate: trip.hitRate,
    limits: { maxConsecutiveLosses: rules.maxConsecutiveLosses, minHitRate: rules.minHitRate, hitRateWindow: rules.hitRateWindow },
    closedTrades: trades.length,
  };
  return db.transaction(async (tx) => {
    const inserted = await tx.query(
      `INSERT INTO breaker_trips (trip_key, tripped_at, model_id, rules, detail) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (trip_key) DO NOTHING RETURNING trip_key`,
      [key, trip.trippedAt, trip.modelId, trip.rules, JSON.stringify(detail)],
    );
    if (inserted.rows.length === 0) return null;
    await appendAudit(tx, 'breaker.tripped', 'breaker', key, detail);
    return trip;
  });
}

// ---- the per-model kill switch ------------------------------------------------------------------

export const ModelHaltView = z.object({ modelId: z.string(), reason: z.string(), actor: z.string(), haltedAt: z.string() }).strict();
export type ModelHaltView = z.infer<typeof ModelHaltView>;
const HaltRow = z.object({ model_id: z.string(), reason: z.string(), actor: z.string(), halted_at: TimestampColumn });

/** The models switched off by a user (model_halts), by id. */
export async function listModelHalts(q: Queryable): Promise<ModelHaltView[]> {
  const rows = await queryRows(q, HaltRow, 'SELECT model_id, reason, actor, halted_at FROM model_halts ORDER BY model_id');
  return rows.map((r) => ({ modelId: r.model_id, reason: r.reason, actor: r.actor, haltedAt: r.halted_at }));
}

function checked(modelId: string, reason: string): { modelId: string; reason: string } {
  const id = modelId.trim();
  const why = reason.trim();
  if (!id) throw new QuorumError('INPUT_INVALID', 'modelId: a model id is required', { field: 'modelId' });
  if (!why) throw new QuorumError('INPUT_INVALID', 'reason: a reason is required to halt or resume a model', { field: 'reason' });
  return { modelId: id, reason: why };
}

/** Switches one model off (its proposals may send no order), audited; halting a halted model rewords its reason. */
export async function haltModel(db: Db, modelId: string, reason: string, actor: string): Promise<ModelHaltView[]> {
  const c = checked(modelId, reason);
  return db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO model_halts (model_id, reason, actor) VALUES ($1, $2, $3)
       ON CONFLICT (model_id) DO UPDATE SET reason = EXCLUDED.reason, actor = EXCLUDED.actor, halted_at = now()`,
      [c.modelId, c.reason, actor],
    );
    await appendAudit(tx, 'model.halted', 'model', c.modelId, { reason: c.reason, actor });
    return listModelHalts(tx);
  });
}

/** Switches one model back on, audited; a model that is not halted is an error naming it. */
export async function resumeModel(db: Db, modelId: string, reason: string, actor: string): Promise<ModelHaltView[]> {
  const c = checked(modelId, reason);
  return db.transaction(async (tx) => {
    const res = await tx.query('DELETE FROM model_halts WHERE model_id = $1', [c.modelId]);
    if (res.rowCount === 0) throw new QuorumError('NOT_FOUND', `modelId: model ${c.modelId} is not halted`, { field: 'modelId' });
    await appendAudit(tx, 'model.resumed', 'model', c.modelId, { reason: c.reason, actor });
    return listModelHalts(tx);
  });
}

/** settings.circuitBreakers with the models halted in the database added to its killedModels. */
export async function breakerRules(q: Queryable, config: Pick<Config, 'settings'>): Promise<CircuitBreakerRules> {
  const rules = config.settings.circuitBreakers;
  const halted = (await listModelHalts(q)).map((h) => h.modelId);
  return { ...rules, killedModels: [...new Set([...rules.killedModels, ...halted])].sort() };
}

/** The breakers as they stand now: their assessment of the closed trades, and the switched-off models. */
export const BreakerStatusView = z
  .object({
    breaker: z
      .object({
        state: z.enum(['ACTIVE', 'REDUCING']),
        reason: z.string(),
        consecutiveLosses: z.number().int(),
        hitRate: z.number().nullable(),
        rules: z.array(RuleResult),
      })
      .strict() satisfies z.ZodType<BreakerAssessment>,
    closedTrades: z.number().int(),
    /** The trip that holds the book in REDUCING (null while no breaker does), and whether it has been recorded and notified. */
    trip: z
      .object({
        trippedAt: z.string(),
        modelId: z.string(),
        rules: z.array(z.string()),
        reason: z.string(),
        consecutiveLosses: z.number().int(),
        hitRate: z.number().nullable(),
        models: z.array(z.string()),
        notified: z.boolean(),
      })
      .strict()
      .nullable(),
    /** settings.circuitBreakers.killedModels and model_halts together. */
    killedModels: z.array(z.string()),
    haltedModels: z.array(ModelHaltView),
  })
  .strict();
export type BreakerStatus = z.infer<typeof BreakerStatusView>;

export async function readBreakerStatus(q: Queryable, config: Config): Promise<BreakerStatus> {
  const [trades, rules, haltedModels] = await Promise.all([loadClosedTrades(q), breakerRules(q, config), listModelHalts(q)]);
  const current = currentTrip(trades, rules);
  let trip: BreakerStatus['trip'] = null;
  if (current) {
    const { now: _now, ...rest } = current;
    const recorded = await q.query('SELECT 1 FROM breaker_trips WHERE trip_key = $1', [tripKey(current)]);
    trip = { ...rest, notified: recorded.rows.length > 0 };
  }
  return { breaker: circuitBreakerFor(trades, rules), closedTrades: trades.length, trip, killedModels: rules.killedModels, haltedModels };
}

/** Records (and so notifies) the breakers' current trip over the stored fills, if there is one not yet recorded. */
export async function recordCurrentTrip(db: Db, config: Pick<Config, 'settings'>): Promise<BreakerTrip | null> {
  const [trades, rules] = await Promise.all([loadClosedTrades(db), breakerRules(db, config)]);
  return recordBreakerTrip(db, trades, rules);
}
