/**
 * The backtest and paper trading give the same orders and fills over the same days: the fast engine
 * (evals/backtest/engine.ts, its day loop and SimBroker) and the session-replay engine
 * (evals/backtest/session-replay.ts: each next trading day at 10:00 New York the exit monitor, then
 * sessions/run.ts runSession with the same committee, order stage and risk controller, against the
 * paper exchange in-process over HTTP through the Alpaca SDK) over the committee book (rules baseline),
 * with the same walk-forward model. Costs are the same on both sides (slippage 5 bps, commission 1 bp:
 * one fill model, execution/fill-model.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { runBacktest, type BacktestRun } from '../../evals/backtest/engine.ts';
import { loadBundledPrices } from '../../evals/backtest/data.ts';
import { runSessionBacktest } from '../../evals/backtest/session-replay.ts';

const TICKERS = ['AA', 'AXP', 'BA', 'C', 'GE', 'HD', 'IBM', 'INTC', 'MSFT', 'WMT'];
const FROM = '1993-01-04';
const TO = '1993-01-13';
const TOP_N = 3;

const dir = mkdtempSync(path.join(tmpdir(), 'quorum-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Orders decided after day t's close, by the day they were decided; fills by the day they filled. */
function bookOf(run: BacktestRun): { orders: string[]; fills: string[] } {
  return {
    orders: run.decisions.flatMap((d) =>
      d.orders.filter((o) => o.strategy === 'committee').map((o) => `${d.date} ${o.kind} ${o.reason} ${o.ticker} ${o.side} ${o.qty}`),
    ),
    fills: (run.fills.committee ?? [])
      .filter((f) => f.rejected === null)
      .map((f) => `${f.date} ${f.kind} ${f.ticker} ${f.side} ${f.qty} @${f.price.toFixed(6)} fee ${f.commission.toFixed(6)}`)
      .sort(),
  };
}

describe('a backtest and paper sessions over the same days', () => {
  it('send the same orders, get the same fills and keep the same book', { timeout: 240_000 }, async () => {
    const config = loadConfig({ env: { QUORUM_DATA_DIR: path.join(dir, 'data'), QUORUM_SETTINGS__LOGGING__LEVEL: 'silent' } });
    const data = loadBundledPrices(TICKERS);
    const options = {
      config,
      data,
      from: FROM,
      to: TO,
      critic: 'rules',
      backend: 'rules',
      settings: { proposalsPerDay: TOP_N, holdingDays: config.settings.execution.exits.maxHoldingDays },
    } as const;
    // One after the other: the paper exchange answers in this process, so it must not wait behind the other engine's training.
    const fast = await runBacktest({ ...options, workDir: path.join(dir, 'fast') });
    const sessions = await runSessionBacktest({ ...options, workDir: path.join(dir, 'sessions') });
    expect(sessions.result.models).toEqual(fast.result.models);
    expect(fast.result.params.commissionBps).toBeGreaterThan(0);
    const a = bookOf(fast);
    const b = bookOf(sessions);
    // Enough happened for the comparison to mean something: entries on several days and a bracket exit.
    expect(new Set(a.orders.filter((o) => / entry /.test(o)).map((o) => o.slice(0, 10))).size).toBeGreaterThanOrEqual(4);
    expect(a.fills.some((f) => / exit /.test(f))).toBe(true);
    expect(b.orders).toEqual(a.orders);
    expect(b.fills).toEqual(a.fills);

    const committee = (run: BacktestRun) => run.result.strategies.find((s) => s.name === 'committee');
    const fc = committee(fast);
    const sc = committee(sessions);
    expect(sc?.days.map((d) => d.date)).toEqual(fc?.days.map((d) => d.date));
    for (const [k, day] of (sc?.days ?? []).entries()) {
      const other = fc?.days[k];
      expect(day.equity, day.date).toBeCloseTo(other?.equity ?? NaN, 6);
      expect(day.cash, day.date).toBeCloseTo(other?.cash ?? NaN, 6);
      expect(day.grossExposure, day.date).toBeCloseTo(other?.grossExposure ?? NaN, 9);
      expect(day.turnover, day.date).toBeCloseTo(other?.turnover ?? NaN, 9);
    }
    const trade = (t: { ticker: string; entryDate: string; exitDate: string; quantity: number; exitReason: string; pnl: number }): string =>
      `${t.ticker} ${t.entryDate}..${t.exitDate} ${t.quantity} ${t.exitReason} ${t.pnl.toFixed(6)}`;
    expect(sc?.trades.map(trade)).toEqual(fc?.trades.map(trade));
    expect(sessions.result.strategies.find((s) => s.name === 'buy_and_hold')).toEqual(fast.result.strategies.find((s) => s.name === 'buy_and_hold'));
  });
});
