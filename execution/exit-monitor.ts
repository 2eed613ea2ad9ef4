import { MACD } from 'technicalindicators';
import { z } from 'zod';
import { errorMessage } from '../contracts/index.ts';
import type { Config } from '../config/index.ts';
import { appendAudit, type Db } from '../db/index.ts';
import { barsAsOf } from '../market/index.ts';
import type { Broker } from './broker.ts';
import { recordCurrentTrip } from './breakers.ts';
import { recordBrokerOrder, syncOpenOrders } from './orders.ts';
import { TERMINAL_ORDER_STATUSES, type BrokerOrder, type BrokerPosition } from './schema.ts';
import { getTradingState } from './trading-state.ts';

/** MACD periods of the momentum-reversal exit (the classic 12/26/9). */
export const EXIT_MACD = { fastPeriod: 12, slowPeriod: 26, signalPeriod: 9 } as const;
const BARS_NEEDED = 200;

export type ExitKind = 'time_exit' | 'momentum_exit' | 'breakeven_stop';

export interface ExitAction {
  ticker: string;
  kind: ExitKind;
  detail: string;
  orderId: string | null;
}

export interface ExitMonitorOptions {
  db: Db;
  broker: Broker;
  config: Pick<Config, 'settings'>;
  /** Market time of this run: bars after it are never read. */
  asOf: string;
}

/** True when MACD crossed against a position on the last bar (below its signal for a long, above for a short). */
export function macdCrossedAgainst(closes: readonly number[], side: 'long' | 'short'): boolean {
  if (closes.length < EXIT_MACD.slowPeriod + EXIT_MACD.signalPeriod + 1) return false;
  const points = MACD.calculate({ values: [...closes], ...EXIT_MACD, SimpleMAOscillator: false, SimpleMASignal: false });
  const last = points[points.length - 1];
  const prev = points[points.length - 2];
  if (!last || !prev || last.MACD === undefined || last.signal === undefined || prev.MACD === undefined || prev.signal === undefined) return false;
  return side === 'long' ? prev.MACD >= prev.signal && last.MACD < last.signal : prev.MACD <= prev.signal && last.MACD > last.signal;
}

/** The exit rules' settings (settings.execution.exits, less the holding limit, which each caller states). */
export type ExitRules = Pick<Config['settings']['execution']['exits'], 'breakevenAtR' | 'momentumReversal'>;

/** What the exit rules see of one held position (or one lot of it). */
export interface HeldPosition {
  side: 'long' | 'short';
  /** Bars closed since the entry filled. */
  heldBars: number;
  /** The time exit's limit, in bars. */
  maxHoldingBars: number;
  /** Closes up to now, oldest first (the last is the current price). */
  closes: readonly number[];
  entryPrice: number;
  /** The entry's stop when it was placed (R is measured from it), and the stop working now. */
  initialStop: number | null;
  stop: number | null;
}

export type ExitSignal =
  { kind: 'time_exit'; detail: string } | { kind: 'momentum_exit'; detail: string } | { kind: 'breakeven_stop'; stop: number; detail: string } | null;

/**
 * The exit rules, pure: the exit monitor and the backtest both ask this, in this order:
 *  - time exit once the position has been held maxHoldingBars bars;
 *  - momentum-reversal exit when MACD crosses against it on the last bar (if enabled);
 *  - stop to breakeven once the last close is breakevenAtR x R in favour (R = |entry - initial stop|),
 *    unless the stop is already at or past the entry.
 */
export function exitSignal(p: HeldPosition, rules: ExitRules): ExitSignal {
  if (p.heldBars >= p.maxHoldingBars) return { kind: 'time_exit', detail: `held ${p.heldBars} bars >= maxHoldingDays ${p.maxHoldingBars}` };
  if (rules.momentumReversal && macdCrossedAgainst(p.closes, p.side)) {
    return {
      kind: 'momentum_exit',
      detail: `MACD(${EXIT_MACD.fastPeriod},${EXIT_MACD.slowPeriod},${EXIT_MACD.signalPeriod}) crossed against the ${p.side} position`,
    };
  }
  const last = p.closes[p.closes.length - 1];
  if (last === undefined || p.stop === null || p.initialStop === null) return null;
  const r = Math.abs(p.entryPrice - p.initialStop);
  const gain = p.side === 'long' ? last - p.entryPrice : p.entryPrice - last;
  const notYet = p.side === 'long' ? p.stop < p.entryPrice : p.stop > p.entryPrice;
  if (!(r > 0 && gain >= rules.breakevenAtR * r && notYet)) return null;
  return {
    kind: 'breakeven_stop',
    stop: p.entryPrice,
    detail: `price ${last} is ${(gain / r).toFixed(2)}R in favour (R=${r.toFixed(4)}): stop ${p.stop} -> ${p.entryPrice}`,
  };
}

/** A simple market order that closes the whole position (what closePosition sends). */
function isClosingOrder(o: BrokerOrder, p: BrokerPosition): boolean {
  return (
    o.symbol === p.symbol &&
    o.orderClass === 'simple' &&
    o.type === 'market' &&
    o.side === (p.qty > 0 ? 'sell' : 'buy') &&
    Math.abs(o.qty - Math.abs(p.qty)) < 1e-9
  );
}

function openStopLeg(parent: BrokerOrder | undefined): BrokerOrder['legs'][number] | undefined {
  return parent?.legs.find((l) => l.type === 'stop' && !TERMINAL_ORDER_STATUSES.has(l.status));
}

async function initialStop(db: Db, parent: BrokerOrder | undefined): Promise<number | null> {
  if (!parent) return null;
  const res = await db.query(`SELECT i.payload FROM orders o JOIN order_intents i ON i.id = o.intent_id WHERE o.id = $1`, [parent.id]);
  const row = res.rows[0] ? z.object({ payload: z.object({ stopLoss: z.number().nullable() }).passthrough() }).safeParse(res.rows[0]) : null;
  return row?.success ? row.data.payload.stopLoss : (openStopLeg(parent)?.stopPrice ?? null);
}

async function exitPosition(db: Db, broker: Broker, p: BrokerPosition, openOrders: BrokerOrder[], kind: ExitKind, detail: string): Promise<ExitAction> {
  for (const o of openOrders.filter((x) => x.symbol === p.symbol)) await broker.cancelOrder(o.id);
  const order = await broker.closePosition(p.symbol);
  await recordBrokerOrder(db, order, broker.name);
  await appendAudit(db, `exit.${kind}`, 'position', p.symbol, { detail, orderId: order.id, qty: p.qty });
  return { ticker: p.symbol, kind, detail, orderId: order.id };
}

/**
 * One pass of the exit monitor (the sessions scheduler runs it on settings.sessions.exitMonitorCron):
 *  - refreshes open orders, so bracket stop/target fills at the broker are stored;
 *  - time exit after settings.execution.exits.maxHoldingDays trading days (bars) held;
 *  - momentum-reversal exit when MACD crosses against the position (if enabled);
 *  - moves a bracket's stop to breakeven once the price is breakevenAtR × R in favour.
 * Exits reduce exposure, so they run in ACTIVE and REDUCING; under HALTED nothing new is sent.
 */
export async function runExitMonitor(options: ExitMonitorOptions): Promise<ExitAction[]> {
  const { db, broker, asOf } = options;
  const exits = options.config.settings.execution.exits;
  await syncOpenOrders(db, broker);
  // A losing trade the sync just closed may trip a breaker: it is recorded and notified now, not at the next risk check.
  await recordCurrentTrip(db, options.config);
  const state = await getTradingState(db);
  if (state.state === 'HALTED') {
    await appendAudit(db, 'exit_monitor.skipped', 'exit_monitor', asOf, { reason: `HALTED: ${state.reason}` });
    return [];
  }
  const [positions, openOrders] = await Promise.all([broker.listPositions(), broker.listOpenOrders()]);
  const actions: ExitAction[] = [];
  for (const p of positions) {
    // Already on its way out: a simple market order for the whole position, sent by an earlier pass,
    // waits for its bar. Exiting again would cancel it and send another, pass after pass.
    if (openOrders.some((o) => isClosingOrder(o, p))) continue;
    try {
      const bars = await barsAsOf(db, { ticker: p.symbol, asOf, limit: BARS_NEEDED });
      const closes = bars.map((b) => b.close);
      const side = p.qty > 0 ? 'long' : 'short';
      const local = await db.query('SELECT opened_at FROM positions WHERE ticker = $1', [p.symbol]);
      const openedAt = local.rows[0] ? z.object({ opened_at: z.coerce.date().nullable() }).parse(local.rows[0]).opened_at : null;
      const held = openedAt ? bars.filter((b) => Date.parse(b.ts) > openedAt.getTime()).length : 0;

      const parent = openOrders.find((o) => o.symbol === p.symbol && o.orderClass === 'bracket');
      const stopLeg = openStopLeg(parent);
      const signal = exitSignal(
        {
          side,
          heldBars: held,
          maxHoldingBars: exits.maxHoldingDays,
          closes: closes.length > 0 ? closes : [p.currentPrice],
          entryPrice: p.avgEntryPrice,
          initialStop: stopLeg ? await initialStop(db, parent) : null,
          stop: stopLeg?.stopPrice ?? null,
        },
        exits,
      );
      if (signal?.kind === 'time_exit' || signal?.kind === 'momentum_exit') {
        actions.push(await exitPosition(db, broker, p, openOrders, signal.kind, signal.detail));
      } else if (signal?.kind === 'breakeven_stop' && stopLeg) {
        await broker.replaceOrder(stopLeg.id, { stopPrice: signal.stop });
        await appendAudit(db, 'exit.breakeven_stop', 'order', stopLeg.id, { ticker: p.symbol, detail: signal.detail });
        actions.push({ ticker: p.symbol, kind: 'breakeven_stop', detail: signal.detail, orderId: stopLeg.id });
      }
    } catch (error) {
      // One ticker's failure must not stop the others' exits.
      await appendAudit(db, 'exit_monitor.error', 'position', p.symbol, { error: errorMessage(error) });
    }
  }
  return actions;
}
