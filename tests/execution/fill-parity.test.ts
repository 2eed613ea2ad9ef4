/**
 * Fill parity (ADR 0021): the same market-buy bracket orders, on the same bundled bars, through the
 * in-process paper exchange (`PaperExchange`: submit at a close, `setNow` bar by bar) and through the
 * backtest's simulated broker (`SimBroker`: submit, then `fillPending` and `checkBrackets` per bar) give
 * the same fills: entry bar and price, exit reason (stop / target / none), exit bar and price, quantities
 * and commissions, with one slippage and commission setting on both sides.
 *
 * The timing both follow: an order decided at day t's close fills at bar t+1 (its open, or its close on
 * close-only data), and its legs work from bar t+2. The bars are the bundled samples as stored in the
 * test database: msft.csv (OHLC) and a few close-only tickers of DowJones30.csv. The scenarios are
 * asserted to have happened (a stop inside a bar, a gap through a stop, a target, a position still open
 * at the end), so a window without them fails instead of passing vacuously.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../config/index.ts';
import { PaperExchange } from '../../execution/index.ts';
import { SimBroker, type CostModel } from '../../evals/backtest/broker.ts';
import { barsAsOf, ingestPriceCsv, utcToNewYork, type Bar } from '../../market/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { exchangeSettings } from './support.ts';

/** One cost setting for both engines: 5 bps slippage, half a cent a share commission, no notional commission. */
const SLIPPAGE_BPS = 5;
const COMMISSION_PER_SHARE = 0.005;
const COSTS: CostModel = { slippageBps: SLIPPAGE_BPS, commissionBps: 0, commissionPerShare: COMMISSION_PER_SHARE };
const CASH = 1_000_000;

const MSFT_CSV = path.join(PROJECT_ROOT, 'data/samples/prices/msft.csv');
const DOW_CSV = path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv');

/** A market buy with a bracket, decided at the close of day `decideIdx`. */
interface PlannedOrder {
  ref: string;
  ticker: string;
  decideIdx: number;
  qty: number;
  stop: number;
  target: number;
}

/** What became of one order: its entry fill and, if a leg filled, its exit. Bars are day indices. */
interface Outcome {
  ref: string;
  ticker: string;
  qty: number;
  entryIdx: number;
  entryPrice: number;
  entryCommission: number;
  exit: { reason: 'stop' | 'target'; idx: number; qty: number; price: number; commission: number } | null;
}

interface RunResult {
  outcomes: Outcome[];
  cash: number;
  /** Shares held per ticker at the end. */
  held: Record<string, number>;
}

/** The stored bars of the tickers, by ticker and close time, and the sorted close times of all of them. */
interface StoredBars {
  days: string[];
  bar(ticker: string, idx: number): Bar | null;
  series(ticker: string): Bar[];
}

async function storedBars(t: TestDb, tickers: readonly string[]): Promise<StoredBars> {
  const byTicker = new Map<string, Map<string, Bar>>();
  const series = new Map<string, Bar[]>();
  const all = new Set<string>();
  for (const ticker of tickers) {
    const bars = await barsAsOf(t.db, { ticker, asOf: '2100-01-01T00:00:00.000Z' });
    series.set(ticker, bars);
    byTicker.set(ticker, new Map(bars.map((b) => [b.ts, b])));
    for (const b of bars) all.add(b.ts);
  }
  const days = [...all].sort();
  return {
    days,
    bar: (ticker, idx) => byTicker.get(ticker)?.get(days[idx] ?? '') ?? null,
    series: (ticker) => series.get(ticker) ?? [],
  };
}

const cents = (x: number): number => Math.round(x * 100) / 100;

/** Slippage worked out by hand (not through the fill model): a buy pays 5 bps more, a sell gets 5 bps less. */
function slipped(price: number, side: 'buy' | 'sell'): number {
  return price * (side === 'buy' ? 1 + SLIPPAGE_BPS / 10_000 : 1 - SLIPPAGE_BPS / 10_000);
}

function must<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`missing ${what}`);
  return value;
}

const FillRow = z.object({ order_id: z.string(), qty: z.number(), price: z.number(), commission: z.number(), filled_at: z.coerce.date() });

/** The orders through the paper exchange: clock to each day's close, the day's orders, and on to the last day. */
async function runExchange(t: TestDb, bars: StoredBars, orders: readonly PlannedOrder[], from: number, to: number): Promise<RunResult> {
  // A fresh paper account per run (the two runs share one database of bars).
  for (const table of ['paper_fills', 'paper_positions', 'paper_orders', 'paper_account']) await t.db.query(`DELETE FROM ${table}`);
  const ex = new PaperExchange(t.db, exchangeSettings({ slippageBps: SLIPPAGE_BPS, commissionPerShare: COMMISSION_PER_SHARE, startingCash: CASH }));
  const day = (i: number): string => must(bars.days[i], `day ${i}`);
  await ex.init(day(from));
  for (let i = from; i <= to; i++) {
    await ex.setNow(day(i));
    for (const o of orders.filter((x) => x.decideIdx === i)) {
      await ex.submit({
        symbol: o.ticker,
        qty: o.qty,
        side: 'buy',
        type: 'market',
        time_in_force: 'day',
        client_order_id: o.ref,
        order_class: 'bracket',
        take_profit: { limit_price: o.target },
        stop_loss: { stop_price: o.stop },
      });
    }
  }
  const fills = (await t.db.query('SELECT order_id, qty, price, commission, filled_at FROM paper_fills')).rows.map((r) => FillRow.parse(r));
  const fillOf = (orderId: string): z.infer<typeof FillRow> | null => {
    const mine = fills.filter((f) => f.order_id === orderId);
    expect(mine.length).toBeLessThanOrEqual(1);
    return mine[0] ?? null;
  };
  const idxOf = (at: Date): number => {
    const idx = bars.days.indexOf(at.toISOString());
    expect(idx).toBeGreaterThanOrEqual(0);
    return idx;
  };
  const outcomes: Outcome[] = [];
  for (const o of orders) {
    const parent = must(await ex.getOrderByClientId(o.ref), `paper order ${o.ref}`);
    expect(parent.status).toBe('filled');
    const entry = must(fillOf(parent.id), `entry fill of ${o.ref}`);
    const legs = await ex.legs(parent.id);
    expect(legs.map((l) => l.leg_role).sort()).toEqual(['stop_loss', 'take_profit']);
    const filled = legs.filter((l) => l.status === 'filled');
    expect(filled.length).toBeLessThanOrEqual(1);
    const leg = filled[0];
    let exit: Outcome['exit'] = null;
    if (leg) {
      const f = must(fillOf(leg.id), `exit fill of ${o.ref}`);
      exit = { reason: leg.leg_role === 'stop_loss' ? 'stop' : 'target', idx: idxOf(f.filled_at), qty: f.qty, price: f.price, commission: f.commission };
      // One-cancels-other: the sibling is canceled.
      expect(legs.filter((l) => l.id !== leg.id).map((l) => l.status)).toEqual(['canceled']);
    } else {
      expect(legs.map((l) => l.status)).toEqual(['new', 'new']);
    }
    outcomes.push({
      ref: o.ref,
      ticker: o.ticker,
      qty: entry.qty,
      entryIdx: idxOf(entry.filled_at),
      entryPrice: entry.price,
      entryCommission: entry.commission,
      exit,
    });
  }
  const account = await ex.account();
  const held: Record<string, number> = {};
  for (const p of await ex.positions()) held[p.symbol] = p.qty;
  return { outcomes, cash: account.cash, held };
}

/** The same orders through SimBroker, as the backtest's day loop drives it: the bar's fills, its brackets, then the evening's orders. */
function runSimBroker(bars: StoredBars, orders: readonly PlannedOrder[], from: number, to: number): RunResult {
  const broker = new SimBroker('parity', COSTS, CASH);
  const lotRef = new Map<number, string>();
  const dayIdx = new Map<string, number>();
  for (let i = from; i <= to; i++) {
    const barOn = (ticker: string): Bar | null => bars.bar(ticker, i);
    const date = utcToNewYork(must(bars.days[i], `day ${i}`)).date;
    dayIdx.set(date, i);
    const events = broker.fillPending(i, date, barOn);
    // Lots are opened in the order of the entry events: name each new lot after its order.
    const newLots = broker.lots.filter((l) => !lotRef.has(l.id));
    const entries = events.filter((e) => e.kind === 'entry');
    expect(entries.every((e) => e.rejected === null)).toBe(true);
    expect(newLots).toHaveLength(entries.length);
    newLots.forEach((lot, k) => lotRef.set(lot.id, entries[k]?.ref ?? ''));
    broker.checkBrackets(i, date, barOn);
    for (const o of orders.filter((x) => x.decideIdx === i)) {
      const close = must(barOn(o.ticker), `${o.ticker} bar ${i}`).close;
      broker.submit({
        kind: 'entry',
        ticker: o.ticker,
        side: 'buy',
        qty: o.qty,
        stop: o.stop,
        target: o.target,
        holdingDays: 10_000,
        refPrice: close,
        submittedAt: must(bars.days[i], 'day'),
        ref: o.ref,
      });
    }
  }
  expect(broker.pending).toEqual([]);
  const outcomes: Outcome[] = orders.map((o) => {
    const entries = broker.fills.filter((f) => f.kind === 'entry' && f.ref === o.ref);
    expect(entries).toHaveLength(1);
    const entry = must(entries[0], `entry of ${o.ref}`);
    const lotId = [...lotRef].find(([, ref]) => ref === o.ref)?.[0];
    const exits = broker.fills.filter((f) => f.kind === 'exit' && f.ref === `bracket:${lotId ?? -1}`);
    expect(exits.length).toBeLessThanOrEqual(1);
    const x = exits[0];
    const reason = x?.reason;
    const exit: Outcome['exit'] =
      x && (reason === 'stop' || reason === 'target')
        ? { reason, idx: must(dayIdx.get(x.date), x.date), qty: x.qty, price: x.price, commission: x.commission }
        : null;
    if (x) expect(exit).not.toBeNull();
    return {
      ref: o.ref,
      ticker: o.ticker,
      qty: entry.qty,
      entryIdx: must(dayIdx.get(entry.date), entry.date),
      entryPrice: entry.price,
      entryCommission: entry.commission,
      exit,
    };
  });
  const held: Record<string, number> = {};
  for (const ticker of broker.heldTickers()) held[ticker] = broker.positionQty(ticker);
  return { outcomes, cash: broker.cash, held };
}

/**
 * What the fill model says each outcome must be, from the bars alone: the entry at bar decide+1 at its
 * open (close) plus slippage; the exit on the first bar from entry+1 on that reaches a leg, stop first,
 * a stop at min(open, stop) less slippage, a target at max(open, target); per-share commission.
 */
function checkAgainstBars(bars: StoredBars, orders: readonly PlannedOrder[], outcomes: readonly Outcome[], to: number): void {
  for (const o of orders) {
    const got = must(
      outcomes.find((x) => x.ref === o.ref),
      o.ref,
    );
    const entryBar = must(bars.bar(o.ticker, o.decideIdx + 1), `entry bar of ${o.ref}`);
    expect(got.entryIdx, o.ref).toBe(o.decideIdx + 1);
    expect(got.qty).toBe(o.qty);
    expect(got.entryPrice).toBeCloseTo(slipped(entryBar.open ?? entryBar.close, 'buy'), 10);
    expect(got.entryCommission).toBeCloseTo(o.qty * COMMISSION_PER_SHARE, 10);
    let expected: Outcome['exit'] = null;
    for (let k = got.entryIdx + 1; k <= to && expected === null; k++) {
      const b = bars.bar(o.ticker, k);
      if (!b) continue;
      const open = b.open ?? b.close;
      const low = b.low ?? Math.min(open, b.close);
      const high = b.high ?? Math.max(open, b.close);
      const common = { idx: k, qty: o.qty, commission: o.qty * COMMISSION_PER_SHARE };
      if (low <= o.stop) expected = { ...common, reason: 'stop', price: slipped(Math.min(open, o.stop), 'sell') };
      else if (high >= o.target) expected = { ...common, reason: 'target', price: Math.max(open, o.target) };
    }
    if (expected === null) expect(got.exit, o.ref).toBeNull();
    else {
      expect(got.exit, o.ref).toMatchObject({ reason: expected.reason, idx: expected.idx, qty: expected.qty });
      expect(got.exit?.price).toBeCloseTo(expected.price, 10);
      expect(got.exit?.commission).toBeCloseTo(expected.commission, 10);
    }
  }
}

/** The two runs agree fill for fill (prices exactly: both go through execution/fill-model.ts), and in cash and shares held. */
function expectParity(exchange: RunResult, sim: RunResult): void {
  expect(exchange.outcomes).toHaveLength(sim.outcomes.length);
  for (const [k, e] of exchange.outcomes.entries()) {
    const s = must(sim.outcomes[k], `sim outcome ${k}`);
    expect({ ref: e.ref, qty: e.qty, entryIdx: e.entryIdx, exit: e.exit && { reason: e.exit.reason, idx: e.exit.idx, qty: e.exit.qty } }).toEqual({
      ref: s.ref,
      qty: s.qty,
      entryIdx: s.entryIdx,
      exit: s.exit && { reason: s.exit.reason, idx: s.exit.idx, qty: s.exit.qty },
    });
    expect(e.entryPrice, e.ref).toBe(s.entryPrice);
    expect(e.entryCommission, e.ref).toBeCloseTo(s.entryCommission, 12);
    expect(e.exit?.price, e.ref).toBe(s.exit?.price);
    expect(e.exit?.commission ?? 0, e.ref).toBeCloseTo(s.exit?.commission ?? 0, 12);
  }
  expect(exchange.cash).toBeCloseTo(sim.cash, 6);
  expect(exchange.held).toEqual(sim.held);
}

// ---- msft.csv (OHLC): a window of about six weeks around a gap through a stop ------------------------

/** Stops 3% under and targets 2% over the deciding close. */
const MSFT_STOP = 0.03;
const MSFT_TARGET = 0.02;
/** Decision days relative to the gap bar g; the order at g-2 fills at g-1 and its stop is gapped through at g. */
const MSFT_OFFSETS = [-16, -13, -10, -7, -4, -2, 1, 4, 7] as const;
const MSFT_AFTER = 11;

/**
 * The first bar g of the file whose open is under the stop of an order decided at g-2 (3% under that
 * close) while bar g-1's low stayed above it: a gap through the stop, with room for the window. Bar
 * g-1, the entry's own bar, must also reach the target (2% over): a leg that must not work there.
 */
function findStopGap(bars: readonly Bar[]): number {
  for (let g = -MSFT_OFFSETS[0]; g + MSFT_AFTER < bars.length; g++) {
    const decide = must(bars[g - 2], 'bar');
    const prev = must(bars[g - 1], 'bar');
    const gap = must(bars[g], 'bar');
    const stop = cents(decide.close * (1 - MSFT_STOP));
    const target = cents(decide.close * (1 + MSFT_TARGET));
    if (prev.low !== null && prev.high !== null && gap.open !== null && prev.low > stop && prev.high >= target && gap.open < stop) return g;
  }
  throw new Error('no gap through a stop in msft.csv');
}

// ---- DowJones30.csv (close-only): three tickers over about five weeks ---------------------------------

const DOW_TICKERS = ['KO', 'GE', 'IBM'] as const;
const DOW_FROM = '2000-03-01';
const DOW_STOP = 0.04;
const DOW_TARGET = 0.05;
const DOW_DAYS = 24;

describe.each(BACKENDS)('fill parity between the paper exchange and the backtest broker ($name)', ({ open, available }) => {
  let t: TestDb;

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    // One database for both files: the Dow's close-only MSFT column is then replaced by msft.csv's OHLC
    // bars where they overlap (2000-09-27 on); the close-only case trades other tickers.
    await ingestPriceCsv(t.db, DOW_CSV);
    await ingestPriceCsv(t.db, MSFT_CSV, { ticker: 'MSFT' });
  });

  afterAll(async () => {
    if (available) await t.cleanup();
  });

  it.skipIf(!available)(
    'fills the same bracket orders alike on OHLC bars (msft.csv): a stop inside a bar, a gap through a stop, targets and an open position',
    async () => {
      const bars = await storedBars(t, ['MSFT']);
      expect(
        bars
          .series('MSFT')
          .filter((b) => b.ts.slice(0, 10) >= '2001-01-03')
          .every((b) => b.open !== null && b.high !== null && b.low !== null),
      ).toBe(true);
      const gap = findStopGap(bars.series('MSFT'));
      const from = gap + MSFT_OFFSETS[0];
      const to = gap + MSFT_AFTER;
      expect(must(bars.days[from], 'first day').slice(0, 10) > '2001-01-02').toBe(true);
      const orders: PlannedOrder[] = MSFT_OFFSETS.map((off, k) => {
        const close = must(bars.bar('MSFT', gap + off), 'deciding bar').close;
        return {
          ref: `msft-${k}`,
          ticker: 'MSFT',
          decideIdx: gap + off,
          qty: 100 + 25 * k,
          stop: cents(close * (1 - MSFT_STOP)),
          target: cents(close * (1 + MSFT_TARGET)),
        };
      });

      const sim = runSimBroker(bars, orders, from, to);
      const exchange = await runExchange(t, bars, orders, from, to);
      expectParity(exchange, sim);
      checkAgainstBars(bars, orders, exchange.outcomes, to);

      // The scenarios happened.
      const bar = (o: Outcome): Bar => must(bars.bar('MSFT', o.exit?.idx ?? -1), 'exit bar');
      const planned = (o: Outcome): PlannedOrder =>
        must(
          orders.find((p) => p.ref === o.ref),
          o.ref,
        );
      const stops = exchange.outcomes.filter((o) => o.exit?.reason === 'stop');
      const inside = stops.filter((o) => (bar(o).open ?? 0) > planned(o).stop);
      expect(inside.length).toBeGreaterThan(0);
      for (const o of inside) expect(o.exit?.price).toBeCloseTo(slipped(planned(o).stop, 'sell'), 10);
      const gapped = must(
        exchange.outcomes.find((o) => o.ref === `msft-${MSFT_OFFSETS.indexOf(-2)}`),
        'the gap order',
      );
      const gapOpen = must(bars.bar('MSFT', gap)?.open, 'gap open');
      expect(gapped.exit).toMatchObject({ reason: 'stop', idx: gap });
      expect(gapOpen).toBeLessThan(planned(gapped).stop);
      expect(gapped.exit?.price).toBeCloseTo(slipped(gapOpen, 'sell'), 10);
      // Its entry bar (g-1) reached the target, but a bracket's legs do not work on the entry's own bar.
      expect(must(bars.bar('MSFT', gap - 1)?.high, 'entry high')).toBeGreaterThanOrEqual(planned(gapped).target);
      expect(exchange.outcomes.some((o) => o.exit?.reason === 'target')).toBe(true);
      const stillOpen = exchange.outcomes.filter((o) => o.exit === null);
      expect(stillOpen.length).toBeGreaterThan(0);
      expect(exchange.held.MSFT).toBe(stillOpen.reduce((a, o) => a + o.qty, 0));
    },
  );

  it.skipIf(!available)('fills the same bracket orders alike on close-only bars (DowJones30.csv), everything at the close', async () => {
    const bars = await storedBars(t, DOW_TICKERS);
    for (const ticker of DOW_TICKERS) expect(bars.series(ticker).every((b) => b.open === null && b.high === null && b.low === null)).toBe(true);
    const from = bars.days.findIndex((ts) => ts.slice(0, 10) >= DOW_FROM);
    const to = from + DOW_DAYS;
    const orders: PlannedOrder[] = DOW_TICKERS.flatMap((ticker, j) =>
      [0, 4, 8, 12, 16, 20].map((off, k) => {
        const close = must(bars.bar(ticker, from + off + j), `${ticker} deciding bar`).close;
        return {
          ref: `${ticker}-${k}`,
          ticker,
          decideIdx: from + off + j,
          qty: 50 + 10 * k,
          stop: cents(close * (1 - DOW_STOP)),
          target: cents(close * (1 + DOW_TARGET)),
        };
      }),
    );

    const sim = runSimBroker(bars, orders, from, to);
    const exchange = await runExchange(t, bars, orders, from, to);
    expectParity(exchange, sim);
    checkAgainstBars(bars, orders, exchange.outcomes, to);

    // Every fill is at a close: entries plus slippage, stops less slippage, targets at the crossing close.
    const planned = (o: Outcome): PlannedOrder =>
      must(
        orders.find((p) => p.ref === o.ref),
        o.ref,
      );
    const closeAt = (o: Outcome, idx: number): number => must(bars.bar(o.ticker, idx), 'bar').close;
    for (const o of exchange.outcomes) expect(o.entryPrice).toBeCloseTo(slipped(closeAt(o, o.entryIdx), 'buy'), 10);
    const stops = exchange.outcomes.filter((o) => o.exit?.reason === 'stop');
    const targets = exchange.outcomes.filter((o) => o.exit?.reason === 'target');
    expect(stops.length).toBeGreaterThan(0);
    expect(targets.length).toBeGreaterThan(0);
    for (const o of stops) {
      const c = closeAt(o, o.exit?.idx ?? -1);
      expect(c).toBeLessThanOrEqual(planned(o).stop);
      expect(o.exit?.price).toBeCloseTo(slipped(c, 'sell'), 10);
    }
    // A close through the stop fills at that close, below the stop: the close-only gap.
    expect(stops.some((o) => closeAt(o, o.exit?.idx ?? -1) < planned(o).stop)).toBe(true);
    for (const o of targets) {
      const c = closeAt(o, o.exit?.idx ?? -1);
      expect(c).toBeGreaterThanOrEqual(planned(o).target);
      expect(o.exit?.price).toBe(c);
    }
    const stillOpen = exchange.outcomes.filter((o) => o.exit === null);
    expect(stillOpen.length).toBeGreaterThan(0);
    for (const ticker of DOW_TICKERS) {
      const qty = stillOpen.filter((o) => o.ticker === ticker).reduce((a, o) => a + o.qty, 0);
      expect(exchange.held[ticker] ?? 0).toBe(qty);
    }
  });
});
