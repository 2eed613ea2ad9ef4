/**
 * The backtest and paper trading give the same orders and fills over the same days. The backtest's
 * committee book (rules baseline) is replayed, day by day, as live operation runs: a session at 10:00
 * New York on each next trading day (sessions/run.ts, the same committee, order stage and risk
 * controller) against the paper exchange in-process (real HTTP through the Alpaca SDK), the exit
 * monitor before it, with the backtest's own walk-forward model as the production model. Costs are the
 * same on both sides (slippage 5 bps, no commission: tests/execution/fill-parity.test.ts covers that).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemorySaver } from '@langchain/langgraph';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger, loadConfig } from '../../config/index.ts';
import { migrate, openPglite } from '../../db/index.ts';
import { emptyNewsArchive, runBacktest } from '../../evals/backtest/engine.ts';
import { loadBundledPrices } from '../../evals/backtest/data.ts';
import { createBroker, runExitMonitor, startPaperExchange, syncOpenOrders } from '../../execution/index.ts';
import { selectBackend } from '../../graph/index.ts';
import { newYorkToUtc, upsertBars } from '../../market/index.ts';
import { loadProposer } from '../../ml/index.ts';
import { runSession } from '../../sessions/run.ts';

const TICKERS = ['AA', 'AXP', 'BA', 'C', 'GE', 'HD', 'IBM', 'INTC', 'MSFT', 'WMT'];
const FROM = '1996-01-02';
const TO = '1996-01-12';
const TOP_N = 3;

const dir = mkdtempSync(path.join(tmpdir(), 'quorum-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FillRow = z.object({ ticker: z.string(), side: z.enum(['buy', 'sell']), qty: z.number(), price: z.number(), filled_at: z.coerce.date() });

describe('a backtest and paper sessions over the same days', () => {
  it('send the same orders and get the same fills', { timeout: 240_000 }, async () => {
    const config = loadConfig({
      env: {
        QUORUM_DATA_DIR: path.join(dir, 'data'),
        QUORUM_SETTINGS__LOGGING__LEVEL: 'silent',
        QUORUM_SETTINGS__EXECUTION__PAPER_EXCHANGE__COMMISSION_PER_SHARE: '0',
        QUORUM_SETTINGS__BACKTEST__COMMISSION_BPS: '0',
      },
    });
    expect(config.settings.execution.paperExchange.slippageBps).toBe(config.settings.backtest.slippageBps);
    expect(config.settings.execution.paperExchange.startingCash).toBe(config.settings.backtest.initialEquity);
    const log = createLogger(config);
    const data = loadBundledPrices(TICKERS);
    const workDir = path.join(dir, 'models');
    const bt = await runBacktest({
      config,
      data,
      from: FROM,
      to: TO,
      critic: 'rules',
      backend: 'rules',
      workDir,
      settings: { proposalsPerDay: TOP_N, holdingDays: config.settings.execution.exits.maxHoldingDays },
    });
    expect(bt.models).toHaveLength(1);
    const days = bt.decisions.map((d) => d.date);
    // Orders decided after day t's close, by the day they were decided.
    const btOrders = bt.decisions.flatMap((d) =>
      d.orders.filter((o) => o.strategy === 'committee' && o.kind === 'entry').map((o) => `${d.date} ${o.ticker} ${o.side} ${o.qty}`),
    );
    const btFills = (bt.fills.committee ?? [])
      .filter((f) => f.rejected === null)
      .map((f) => `${f.date} ${f.ticker} ${f.side} ${f.qty} @${f.price.toFixed(6)}`)
      .sort();

    const db = await openPglite(null);
    await migrate(db);
    const proposer = await loadProposer(path.join(workDir, bt.models[0]?.modelId ?? '', 'model-card.json'));
    const exchange = await startPaperExchange({
      db,
      settings: config.settings.execution.paperExchange,
      port: 0,
      initialNow: newYorkToUtc(days[1] ?? '', 9, 0),
    });
    try {
      await db.transaction((tx) =>
        upsertBars(
          tx,
          TICKERS.flatMap((t) => [...(data.bars.get(t) ?? [])]),
        ),
      );
      const broker = createBroker(config, { paperExchangeUrl: exchange.url });
      const backend = await selectBackend(config, 'rules');
      const paperOrders: string[] = [];
      for (let i = 1; i < days.length; i++) {
        // The morning of day i sees bars through day i-1, as the backtest's evening of day i-1 does.
        const asOf = newYorkToUtc(days[i] ?? '', 10, 0);
        await exchange.exchange.startSession(asOf);
        await syncOpenOrders(db, broker);
        await runExitMonitor({ db, broker, config, asOf });
        const outcome = await runSession(
          {
            db,
            config,
            log,
            broker,
            backend,
            proposer,
            searchNews: emptyNewsArchive,
            now: () => asOf,
            checkpointer: new MemorySaver(),
            exchangeClock: exchange.exchange,
          },
          { asOf, kind: 'backtest', slot: `identity ${asOf}`, tickers: TICKERS, topN: TOP_N },
        );
        for (const j of outcome.judged) if (j.order) paperOrders.push(`${days[i - 1]} ${j.proposal.ticker} ${j.proposal.side} ${j.decision?.finalQty ?? 0}`);
      }
      const fills = z.array(FillRow).parse((await db.query('SELECT ticker, side, qty, price, filled_at FROM fills')).rows);
      const paperFills = fills.map((f) => `${f.filled_at.toISOString().slice(0, 10)} ${f.ticker} ${f.side} ${f.qty} @${f.price.toFixed(6)}`).sort();

      // Enough happened for the comparison to mean something: entries on several days and a bracket exit.
      expect(new Set(btOrders.map((o) => o.slice(0, 10))).size).toBeGreaterThanOrEqual(4);
      expect(btFills.some((f) => / sell /.test(f))).toBe(true);
      expect(paperOrders).toEqual(btOrders);
      expect(paperFills).toEqual(btFills);
    } finally {
      await exchange.close();
      await proposer.session.release();
      await db.close();
    }
  });
});
