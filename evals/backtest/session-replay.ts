/**
 * The session-replay backtest engine (`quorum backtest --engine sessions`, ADR 0040): the backtest's
 * committee book run as live operation runs, on a simulated clock. For each trading day after the first,
 * at 10:00 New York: the paper exchange's clock is set to the session (filling what the bars in between
 * triggered), the exit monitor runs (execution/exit-monitor.ts), then a session (sessions/run.ts
 * runSession: propose, committee, the order stage with risk/ decide, the broker) against the paper
 * exchange in-process, over HTTP through the Alpaca SDK, with its fill engine (execution/fill-model.ts).
 * Its market orders fill at the day's own bar; the book is read at that close.
 *
 * The walk-forward models are the fast engine's (engine.ts trainModelFor, on the same schedule): the
 * session on day t uses the model the fast engine scores day t-1's close with, and sees bars through
 * t-1 only, as the fast engine's evening of t-1 does. The result has the fast engine's shape: the
 * committee book, buy-and-hold and the indices (the proposer-only book and the vetoes' forward returns
 * are the fast engine's alone: a session always asks the committee).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemorySaver } from '@langchain/langgraph';
import { z } from 'zod';
import { createLogger, type Config } from '../../config/index.ts';
import { QuorumError } from '../../contracts/index.ts';
import { migrate, openPglite, type Db } from '../../db/index.ts';
import { createBroker, nyDate, runExitMonitor, startPaperExchange, type ExitAction } from '../../execution/index.ts';
import type { CommitteeBackend, SelectedBackend } from '../../graph/index.ts';
import { dailyBarTs, newYorkToUtc, upsertBars } from '../../market/index.ts';
import type { Proposer } from '../../ml/index.ts';
import { runSession } from '../../sessions/index.ts';
import { closedTrade, type FillEvent, type Lot } from './broker.ts';
import { PriceView, resolveRange } from './data.ts';
import {
  buyAndHold,
  emptyNewsArchive,
  indexRun,
  reportParams,
  resolveSettings,
  trainModelFor,
  type BacktestOptions,
  type BacktestRun,
  type BacktestSettings,
  type DayDecisions,
  type ModelRecord,
} from './engine.ts';
import { BacktestResult, type BacktestDay, type BacktestTrade, type ExitReason, type StrategyRun } from './schema.ts';

/**
 * The configuration the sessions of a replay run under: the paper exchange with the backtest's costs and
 * starting cash, filling at the next bar; the time exit at the backtest's holding days; no human
 * approval (no one answers in a replay); its session reports in `dataDir`.
 */
export function replayConfig(config: Config, s: BacktestSettings, holdingDays: number, dataDir: string): Config {
  const exec = config.settings.execution;
  return {
    ...config,
    dataDir,
    settings: {
      ...config.settings,
      logging: { ...config.settings.logging, level: 'silent' },
      execution: {
        ...exec,
        mode: 'paper',
        broker: 'paper-exchange',
        requireApproval: false,
        paperExchange: {
          ...exec.paperExchange,
          slippageBps: s.slippageBps,
          commissionBps: s.commissionBps,
          commissionPerShare: 0,
          startingCash: s.initialEquity,
          fillMode: 'next-open',
        },
        exits: { ...exec.exits, maxHoldingDays: holdingDays },
      },
    },
  };
}

const PaperFillRow = z.object({
  order_id: z.string(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  qty: z.number(),
  price: z.number(),
  commission: z.number(),
  filled_at: z.coerce.date(),
  leg_role: z.enum(['take_profit', 'stop_loss']).nullable(),
});
type PaperFillRow = z.infer<typeof PaperFillRow>;

/**
 * The book's closed round trips from the exchange's fills, lot by lot in fill order (first in, first out):
 * a bracket leg's fill is its stop or target, an exit monitor's order its time or reversal exit, any
 * other reducing order a reversal; lots still open on the last day close at its close (`end`, no costs).
 */
function tradesOf(
  fills: readonly PaperFillRow[],
  exitReasons: ReadonlyMap<string, ExitReason>,
  lastDate: string,
  closeOn: (ticker: string) => number | null,
): { trades: BacktestTrade[]; events: Array<FillEvent & { date: string }> } {
  const lots: Lot[] = [];
  const trades: BacktestTrade[] = [];
  const events: Array<FillEvent & { date: string }> = [];
  let nextId = 1;
  for (const f of fills) {
    const date = nyDate(f.filled_at.toISOString());
    const held = lots.filter((l) => l.ticker === f.symbol);
    const closing = held.length > 0 && (held[0]?.side === 'long') === (f.side === 'sell');
    if (!closing) {
      lots.push({
        id: nextId++,
        ticker: f.symbol,
        side: f.side === 'buy' ? 'long' : 'short',
        qty: f.qty,
        ref: f.order_id,
        entryIdx: 0,
        entryDate: date,
        entryPrice: f.price,
        entryCommission: f.commission,
        filledAtOpen: false,
        stop: null,
        target: null,
        initialStop: null,
        holdingDays: 0,
      });
      events.push({
        date,
        ticker: f.symbol,
        side: f.side,
        qty: f.qty,
        price: f.price,
        commission: f.commission,
        kind: 'entry',
        reason: null,
        ref: f.order_id,
        rejected: null,
      });
      continue;
    }
    const reason: ExitReason = f.leg_role === 'take_profit' ? 'target' : f.leg_role === 'stop_loss' ? 'stop' : (exitReasons.get(f.order_id) ?? 'reversal');
    let left = f.qty;
    for (const lot of held) {
      if (left <= 0) break;
      const q = Math.min(left, lot.qty);
      const commission = (f.commission * q) / f.qty;
      trades.push(closedTrade(lot, q, date, f.price, commission, reason));
      events.push({ date, ticker: f.symbol, side: f.side, qty: q, price: f.price, commission, kind: 'exit', reason, ref: f.order_id, rejected: null });
      lot.entryCommission -= (lot.entryCommission * q) / lot.qty;
      lot.qty -= q;
      left -= q;
      if (lot.qty <= 0) lots.splice(lots.indexOf(lot), 1);
    }
  }
  for (const lot of lots) trades.push(closedTrade(lot, lot.qty, lastDate, closeOn(lot.ticker) ?? lot.entryPrice, 0, 'end'));
  return { trades, events };
}

/** The backend a session judges with, from the backtest's committee backend. */
function sessionBackend(backend: CommitteeBackend, critic: string): SelectedBackend {
  if (backend === 'rules') return { backend, name: 'rules', notice: 'backend: rules baseline (deterministic critics, no LLM), as requested' };
  return { backend, name: 'ollama', notice: `backend: ${critic} (the backtest's committee backend)` };
}

const EXIT_REASON: Record<ExitAction['kind'], ExitReason | null> = { time_exit: 'time', momentum_exit: 'reversal', breakeven_stop: null };

/** Runs a backtest of the committee book through the live session path (see the file's comment). */
export async function runSessionBacktest(options: BacktestOptions): Promise<BacktestRun> {
  const started = performance.now();
  const { critic } = options;
  if (critic === 'none' || !options.backend) {
    throw new QuorumError('INPUT_INVALID', `--engine sessions runs the committee's sessions: use --critic rules, ollama or replay (got ${critic})`, {
      field: 'critic',
    });
  }
  const s = resolveSettings(options.config, options.settings);
  const horizon = options.config.settings.training.horizonDays;
  const holdingDays = s.holdingDays ?? horizon;
  const view = new PriceView(options.data.bars);
  const range = resolveRange(view, options.from, options.to, s.minTrainDays);
  const { fromIdx, toIdx } = range;
  const dir = options.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'quorum-backtest-'));
  const ownsDir = options.workDir === undefined;
  const config = replayConfig(options.config, s, holdingDays, path.join(dir, 'sessions'));
  const log = createLogger(config);
  const tickers = [...view.tickers];
  const timings = { totalMs: 0, trainMs: 0, proposeMs: 0, committeeMs: 0, committeeRuns: 0 };
  const models: ModelRecord[] = [];
  const decisions: DayDecisions[] = [];
  const days: BacktestDay[] = [{ date: view.days[fromIdx] ?? '', equity: s.initialEquity, cash: s.initialEquity, grossExposure: 0, turnover: 0 }];
  const exitReasons = new Map<string, ExitReason>();
  const backend = sessionBackend(options.backend, critic);

  const db: Db = options.db ?? (await openPglite(null));
  const ownsDb = options.db === undefined;
  let proposer: Proposer | null = null;
  let current: Omit<ModelRecord, 'usedTo'> | null = null;
  let fills: PaperFillRow[];
  try {
    if (ownsDb) await migrate(db);
    // Bars through the last day: the sessions and the exchange read nothing later (point in time).
    await db.transaction((tx) =>
      upsertBars(
        tx,
        tickers.flatMap((t) => [...view.barsUpTo(t, toIdx)]),
      ),
    );
    const exchange = await startPaperExchange({
      db,
      settings: config.settings.execution.paperExchange,
      port: 0,
      initialNow: newYorkToUtc(view.days[fromIdx + 1] ?? view.days[fromIdx] ?? '', 9, 0),
    });
    try {
      const broker = createBroker(config, { paperExchangeUrl: exchange.url });
      const ex = exchange.exchange;
      options.onProgress?.({ done: 1, total: toIdx - fromIdx + 1, date: view.days[fromIdx] ?? '' });
      for (let i = fromIdx; i < toIdx; i++) {
        // The model of the evening of day i (walk-forward, trained on bars through day i-1).
        if ((i - fromIdx) % s.retrainEveryDays === 0) {
          const t0 = performance.now();
          if (current && i > fromIdx) models.push({ ...current, usedTo: view.days[i - 1] ?? current.usedFrom });
          const trained = await trainModelFor(view, i, config, dir, 'fixed');
          await proposer?.session.release();
          proposer = trained.proposer;
          current = trained.record;
          timings.trainMs += performance.now() - t0;
        }
        if (!proposer || !current) throw new QuorumError('INTERNAL', 'no model for the day');
        const decided = view.days[i] ?? '';
        const date = view.days[i + 1] ?? '';
        const asOf = newYorkToUtc(date, 10, 0);
        const t1 = performance.now();
        await ex.startSession(asOf);
        const exits = await runExitMonitor({ db, broker, config, asOf });
        const held = new Map((await ex.positions()).map((p) => [p.symbol, p.qty]));
        const outcome = await runSession(
          {
            db,
            config,
            log,
            broker,
            backend,
            proposer,
            searchNews: options.news?.search ?? emptyNewsArchive,
            now: () => asOf,
            checkpointer: new MemorySaver(),
            exchangeClock: ex,
          },
          { asOf, kind: 'backtest', slot: `backtest ${asOf}`, tickers, topN: s.proposalsPerDay },
        );
        timings.committeeMs += performance.now() - t1;
        timings.committeeRuns += outcome.judged.length;
        const day: DayDecisions = { date: decided, modelId: current.modelId, proposals: [], verdicts: [], opinions: [], risk: [], orders: [] };
        for (const x of exits) {
          const reason = EXIT_REASON[x.kind];
          if (!reason || !x.orderId) continue;
          exitReasons.set(x.orderId, reason);
          const qty = held.get(x.ticker) ?? 0;
          day.orders.push({ strategy: 'committee', ticker: x.ticker, side: qty > 0 ? 'sell' : 'buy', qty: Math.abs(qty), kind: 'exit', reason });
        }
        for (const j of outcome.judged) {
          const p = j.proposal;
          day.proposals.push({ id: p.id, ticker: p.ticker, side: p.side, probability: p.probability });
          if (j.verdict) {
            day.verdicts.push({ proposalId: p.id, decision: j.verdict.decision, sizeMultiplier: j.verdict.sizeMultiplier, confidence: j.verdict.confidence });
          }
          const d = j.decision;
          if (d) {
            day.risk.push({
              strategy: 'committee',
              proposalId: p.id,
              decisionId: d.id,
              action: d.action,
              finalQty: d.finalQty,
              stop: d.stop,
              target: d.target,
            });
          }
          if (!j.order || !d) continue;
          const position = held.get(p.ticker) ?? 0;
          const reducing = position !== 0 && position > 0 !== (p.side === 'buy');
          day.orders.push({ strategy: 'committee', ticker: p.ticker, side: p.side, qty: d.finalQty, kind: reducing ? 'exit' : 'entry', reason: 'proposal' });
        }
        decisions.push(day);
        // The book at the day's close: what the day's bar filled (the session's orders, the bracket legs).
        const close = dailyBarTs(date);
        if (Date.parse(await ex.now()) < Date.parse(close)) await ex.setNow(close);
        const account = await ex.account();
        const traded = await db.query(`SELECT coalesce(sum(qty * price), 0)::float8 AS notional FROM paper_fills WHERE filled_at > $1 AND filled_at <= $2`, [
          dailyBarTs(decided),
          close,
        ]);
        const notional = z.object({ notional: z.number() }).parse(traded.rows[0]).notional;
        const equity = account.equity;
        days.push({
          date,
          equity: Math.max(0, equity),
          cash: account.cash,
          grossExposure: equity > 0 ? (account.longMarketValue - account.shortMarketValue) / equity : 0,
          turnover: equity > 0 ? notional / equity : 0,
        });
        options.onProgress?.({ done: i - fromIdx + 2, total: toIdx - fromIdx + 1, date });
      }
      const rows = await db.query(
        `SELECT f.order_id, f.symbol, f.side, f.qty, f.price, f.commission, f.filled_at, o.leg_role
           FROM paper_fills f JOIN paper_orders o ON o.id = f.order_id ORDER BY f.filled_at, o.seq`,
      );
      fills = rows.rows.map((r) => PaperFillRow.parse(r));
    } finally {
      await exchange.close();
    }
    // Decisions need a next bar to fill on: none on the last day (as the fast engine).
    decisions.push({ date: view.days[toIdx] ?? '', modelId: current?.modelId ?? null, proposals: [], verdicts: [], opinions: [], risk: [], orders: [] });
    if (current) models.push({ ...current, usedTo: view.days[toIdx] ?? current.usedFrom });
  } finally {
    await proposer?.session.release();
    if (ownsDb) await db.close();
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  }

  const lastDate = view.days[toIdx] ?? '';
  const book = tradesOf(fills, exitReasons, lastDate, (t) => view.closeAt(t, toIdx));
  const costs = { commissionBps: s.commissionBps, slippageBps: s.slippageBps };
  const strategies: StrategyRun[] = [
    { name: 'committee', label: `Proposer + committee (${critic}, sessions)`, days, trades: book.trades, vetoes: [] },
    buyAndHold(view, fromIdx, toIdx, s, costs),
  ];
  const sp = indexRun('sp500', 'S&P 500 index (price)', options.data.indices.sp500, view, fromIdx, toIdx, s.initialEquity);
  const dj = indexRun('djia', 'Dow Jones Industrial Average (price)', options.data.indices.djia, view, fromIdx, toIdx, s.initialEquity);
  if (sp) strategies.push(sp);
  if (dj) strategies.push(dj);
  const notes = [
    ...options.data.sources,
    `Engine: sessions. Each trading day from ${view.days[fromIdx + 1] ?? ''} runs as live operation does at 10:00 New York: the paper exchange's clock, the exit monitor, then a session (proposer, committee, risk controller, order stage) against the paper exchange in-process over HTTP; market orders fill at that day's bar (its close on close-only data), plus slippage.`,
    `Costs: the paper exchange's fill model with commission ${s.commissionBps} bps and slippage ${s.slippageBps} bps per side; the time exit after ${holdingDays} trading days; no human approval; circuit breakers, the kill switch and the model-health gate as sessions apply them.`,
    `Walk-forward: ${models.length} model(s) on the fast engine's schedule (retrained every ${s.retrainEveryDays} trading days, each trained on bars through the day before its first use, purge gap ${horizon} days).`,
    'Covered: the committee book, buy-and-hold and the indices. The proposer-only book and the vetoes\u2019 forward returns come from the fast engine (--engine fast): a session always asks the committee.',
  ];
  if (options.news) notes.push(`News: the committee searches ${options.news.source}, point in time.`);
  timings.totalMs = performance.now() - started;
  const result = BacktestResult.parse({
    from: range.from,
    to: range.to,
    critic,
    engine: 'sessions',
    params: reportParams(s, holdingDays, tickers, options.config),
    notes,
    models: models.map((m) => ({ modelId: m.modelId, trainedThrough: m.trainedThrough, usedFrom: m.usedFrom, usedTo: m.usedTo })),
    strategies,
  });
  return { result, models, decisions, fills: { committee: book.events }, timings };
}
