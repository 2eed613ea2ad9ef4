/**
 * A circuit breaker tripped by real paper fills: sessions (sessions/run.ts, the rules committee, the
 * order stage) trade HD, GE and C in early January 1996 against the paper exchange in-process (real
 * HTTP through the Alpaca SDK), the exit monitor before each, with a walk-forward model trained on
 * bars through 1995-12-29. The longs stopped out on 1996-01-08 and -10 are losing round trips in a
 * row (rebuilt from the stored fills); with settings circuitBreakers.maxConsecutiveLosses 2 the
 * sessions after them may only reduce: each decision names CONSECUTIVE_LOSSES and no order opens or
 * adds to a position. The trip is audited once and a `breaker.tripped` webhook reaches a real
 * receiver once, though two sessions run while it holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemorySaver } from '@langchain/langgraph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig, type Config } from '../../config/index.ts';
import { emptyNewsArchive, runBacktest } from '../../evals/backtest/engine.ts';
import { loadBundledPrices } from '../../evals/backtest/data.ts';
import {
  createBroker,
  loadClosedTrades,
  readBreakerStatus,
  runExitMonitor,
  startPaperExchange,
  syncOpenOrders,
  type BreakerStatus,
  type RunningPaperExchange,
} from '../../execution/index.ts';
import { selectBackend } from '../../graph/index.ts';
import { newYorkToUtc, upsertBars } from '../../market/index.ts';
import { loadProposer, type Proposer } from '../../ml/index.ts';
import { startNotifier } from '../../notify/index.ts';
import { runSession, type SessionOutcome } from '../../sessions/run.ts';
import { freshPglite, freshPostgres, hasPg, type TestDb } from '../support/db.ts';
import { startReceiver, type Receiver } from '../notify/receiver.ts';

const TICKERS = ['HD', 'GE', 'C'];
const DAYS = ['1996-01-03', '1996-01-04', '1996-01-05', '1996-01-08', '1996-01-09', '1996-01-10', '1996-01-11', '1996-01-12'];

const dir = mkdtempSync(path.join(tmpdir(), 'quorum-breaker-'));
let store: TestDb;
let rx: Receiver;
let proposer: Proposer;
let exchange: RunningPaperExchange;
let config: Config;

beforeAll(async () => {
  rx = await startReceiver();
  const base = loadConfig({
    env: {
      QUORUM_DATA_DIR: path.join(dir, 'data'),
      QUORUM_SETTINGS__LOGGING__LEVEL: 'silent',
      QUORUM_SETTINGS__CIRCUIT_BREAKERS__MAX_CONSECUTIVE_LOSSES: '2',
      QUORUM_SETTINGS__CIRCUIT_BREAKERS__MIN_HIT_RATE: '0',
    },
  });
  const n = base.settings.notifications;
  config = {
    ...base,
    settings: {
      ...base.settings,
      notifications: { ...n, pollMs: 50, backoffMs: 20, targets: [{ name: 'ops', kind: 'webhook', url: rx.url('/hook'), events: ['breaker.tripped'] }] },
    },
  };
  // The walk-forward model of a backtest starting on the first day: trained on bars through 1995-12-29.
  const workDir = path.join(dir, 'models');
  const bt = await runBacktest({ config, data: loadBundledPrices(TICKERS), from: DAYS[0] ?? '', to: DAYS[1] ?? '', critic: 'none', workDir });
  proposer = await loadProposer(path.join(workDir, bt.models[0]?.modelId ?? '', 'model-card.json'));
  store = hasPg ? await freshPostgres() : await freshPglite();
  const data = loadBundledPrices(TICKERS);
  await store.db.transaction((tx) =>
    upsertBars(
      tx,
      TICKERS.flatMap((t) => [...(data.bars.get(t) ?? [])]),
    ),
  );
  exchange = await startPaperExchange({
    db: store.db,
    settings: config.settings.execution.paperExchange,
    port: 0,
    initialNow: newYorkToUtc(DAYS[0] ?? '', 9, 0),
  });
}, 120_000);

afterAll(async () => {
  await exchange.close();
  await proposer.session.release();
  await store.cleanup();
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('circuit breaker from real paper fills', () => {
  it(
    'two losing round trips in a row cut the next sessions to reducing-only, naming CONSECUTIVE_LOSSES; breaker.tripped is notified once',
    { timeout: 120_000 },
    async () => {
      const { db } = store;
      const log = createLogger(config);
      const notifier = await startNotifier({ db, config, log });
      const broker = createBroker(config, { paperExchangeUrl: exchange.url });
      const backend = await selectBackend(config, 'rules');
      const sessions: Array<{ day: string; outcome: SessionOutcome; lossesBefore: number; status: BreakerStatus }> = [];
      try {
        for (const day of DAYS) {
          const asOf = newYorkToUtc(day, 10, 0);
          await exchange.exchange.startSession(asOf);
          await syncOpenOrders(db, broker);
          await runExitMonitor({ db, broker, config, asOf });
          // Closing order, ties by P&L (risk/circuit-breaker.ts: trades closed at one instant, by model id then P&L).
          const trades = (await loadClosedTrades(db)).sort((a, b) => a.closedAt.localeCompare(b.closedAt) || a.pnl - b.pnl);
          let lossesBefore = 0;
          for (let k = trades.length - 1; k >= 0 && (trades[k]?.pnl ?? 0) < 0; k--) lossesBefore++;
          // What GET /v1/portfolio/breakers reads, after the exit monitor and before the session's risk checks.
          const status = await readBreakerStatus(db, config);
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
            { asOf, kind: 'backtest', slot: `breaker ${asOf}`, tickers: TICKERS, topN: 3 },
          );
          sessions.push({ day, outcome, lossesBefore, status });
        }
        await notifier.flush(10_000);
      } finally {
        await notifier.stop();
      }

      // Sessions before the trip opened positions; the trip came from two losing closed trades in a row.
      const tripped = sessions.filter((s) => s.lossesBefore >= 2);
      const before = sessions.filter((s) => s.lossesBefore < 2 && s.day < (tripped[0]?.day ?? ''));
      expect(before.some((s) => s.outcome.judged.some((j) => j.order !== null))).toBe(true);
      for (const s of before) for (const j of s.outcome.judged) expect(j.decision?.rules.find((r) => r.rule === 'CONSECUTIVE_LOSSES')).toBeUndefined();
      expect(tripped.map((s) => s.day)).toEqual(['1996-01-11', '1996-01-12']);
      for (const s of before) expect(s.status.trip).toBeNull();
      // The exit monitor's fill sync saw the losing trade: the trip is shown, and already recorded and
      // notified, before any risk check of the day.
      for (const s of tripped) {
        expect(s.status.breaker.state).toBe('REDUCING');
        expect(s.status.trip).toMatchObject({ rules: ['CONSECUTIVE_LOSSES'], modelId: proposer.card.modelId, consecutiveLosses: 2, notified: true });
      }
      expect(tripped[1]?.status.trip?.trippedAt).toBe(tripped[0]?.status.trip?.trippedAt);
      for (const s of tripped) {
        const decisions = s.outcome.judged.flatMap((j) => (j.decision ? [{ j, d: j.decision }] : []));
        expect(decisions.length).toBeGreaterThan(0);
        for (const { j, d } of decisions) {
          // Each decision names the breaker: its rule results include the tripped CONSECUTIVE_LOSSES.
          expect(d.rules.find((r) => r.rule === 'CONSECUTIVE_LOSSES')).toMatchObject({ passed: false });
          // Nothing opens or adds: an order goes through only against a held position on the other side.
          if (j.order) expect(d.action).not.toBe('DENY');
          if (d.action !== 'DENY') expect(j.proposal.side).toBe('sell');
        }
      }

      // One trip, audited once, one webhook: the rule, the model and the numbers.
      const audited = await db.query<{ entity_id: string }>(`SELECT entity_id FROM audit_events WHERE kind = 'breaker.tripped'`);
      expect(audited.rows).toHaveLength(1);
      const hooks = rx.bodiesAt('/hook') as Array<{ event: string; subject: string; text: string; data: Record<string, unknown> }>;
      expect(hooks.map((h) => h.event)).toEqual(['breaker.tripped']);
      const hook = hooks[0];
      expect(hook?.subject).toBe(`Circuit breaker CONSECUTIVE_LOSSES tripped by model ${proposer.card.modelId}: the book is REDUCING`);
      expect(hook?.text).toMatch(
        /^2 losing trades in a row >= 2 \(2 losing trade\(s\) in a row; the trade closed \S+\)\. Only orders that reduce a position pass/,
      );
      expect(hook?.text).toContain('Limits: 2 losses in a row, hit rate floor off over 20 trades.');
      expect(hook?.data).toMatchObject({
        rules: ['CONSECUTIVE_LOSSES'],
        modelId: proposer.card.modelId,
        consecutiveLosses: 2,
        limits: { maxConsecutiveLosses: 2 },
      });
    },
  );
});
