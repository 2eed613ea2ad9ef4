import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, type Config } from '../../config/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import {
  AlpacaBroker,
  intentFromDecision,
  loadPositions,
  macdCrossedAgainst,
  reconcile,
  runExitMonitor,
  startPaperExchange,
  submitIntent,
  syncOpenOrders,
  type RunningPaperExchange,
} from '../../execution/index.ts';
import { barsFromCloses, decision, exchangeSettings, loadBars, seedDecision } from './support.ts';

const START = 40;
// IBM rises after the entry (breakeven at +1R); KO creeps up linearly (no MACD cross: only the time exit);
// MSFT rises, then turns down hard (MACD crosses below its signal).
const IBM = [...Array.from({ length: START + 1 }, () => 100), 101, 104, 105, 106, 107, 108, 109, 110, 111, 112];
const KO = Array.from({ length: IBM.length }, (_, i) => 50 + i * 0.05);
const MSFT = [...Array.from({ length: START + 4 }, (_, i) => 80 + i * 0.5), 98, 95, 92, 89, 86, 83];

function settingsFor(base: Config, over: Partial<Config['settings']['execution']['exits']>): Pick<Config, 'settings'> {
  return { settings: { ...base.settings, execution: { ...base.settings.execution, exits: { ...base.settings.execution.exits, ...over } } } };
}

describe('MACD momentum reversal', () => {
  it('sees a cross against a long when a rise turns down, and none on a steady rise', () => {
    const firstCross = MSFT.findIndex((_, i) => i > START && macdCrossedAgainst(MSFT.slice(0, i + 1), 'long'));
    expect(firstCross).toBeGreaterThan(START + 3);
    expect(macdCrossedAgainst(KO, 'long')).toBe(false);
    expect(macdCrossedAgainst(MSFT.slice(0, 20), 'long')).toBe(false);
  });
});

describe.each(BACKENDS)('exit monitor against the paper exchange ($name)', ({ open, available }) => {
  let t: TestDb;
  let px: RunningPaperExchange;
  let broker: AlpacaBroker;
  const base = loadConfig({ env: {} });
  const exitsOf = async (ticker: string): Promise<string[]> => {
    const res = await t.db.query(`SELECT kind FROM audit_events WHERE entity_id = $1 AND kind LIKE 'exit.%' ORDER BY id`, [ticker]);
    return res.rows.map((r) => z.object({ kind: z.string() }).parse(r).kind);
  };

  beforeAll(async () => {
    if (!available) return;
    t = await open();
    const bars = [...barsFromCloses('IBM', '2020-01-01', IBM), ...barsFromCloses('KO', '2020-01-01', KO), ...barsFromCloses('MSFT', '2020-01-01', MSFT)];
    await loadBars(t.db, bars);
    px = await startPaperExchange({ db: t.db, settings: exchangeSettings(), port: 0, initialNow: bars[START]?.ts });
    broker = new AlpacaBroker({ mode: 'paper', liveTradingAllowed: false, keyId: 'k', secret: 's', baseUrl: px.url, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    if (!available) return;
    await px.close();
    await t.cleanup();
  });

  it.skipIf(!available)('moves the stop to breakeven at +1R, exits on a MACD reversal and on the holding-time limit, and stores it all', async () => {
    const now = await px.exchange.now();
    const entries = [
      decision({ id: 'rd-ibm', ticker: 'IBM', stop: 97, target: 130, decidedAt: now }),
      decision({ id: 'rd-ko', ticker: 'KO', stop: 45, target: 70, decidedAt: now }),
      decision({ id: 'rd-msft', ticker: 'MSFT', stop: 60, target: 140, decidedAt: now }),
    ];
    for (const d of entries) {
      await seedDecision(t.db, d);
      expect((await submitIntent(t.db, broker, intentFromDecision(d, 'session-exit'))).status).toBe('accepted');
    }
    const config = settingsFor(base, { maxHoldingDays: 5, breakevenAtR: 1, momentumReversal: true });

    // Bar 41: entries fill at the open. Bar 42: IBM closes at 104, 4 above the 100 entry with R = 3.
    await px.exchange.advanceBars(2);
    const first = await runExitMonitor({ db: t.db, broker, config, asOf: await px.exchange.now() });
    expect(first.map((a) => [a.ticker, a.kind])).toEqual([['IBM', 'breakeven_stop']]);
    const ibmParent = (await broker.listOpenOrders()).find((o) => o.symbol === 'IBM');
    expect(ibmParent?.legs.find((l) => l.type === 'stop')?.stopPrice).toBe(100);
    // Already at breakeven: a second pass changes nothing.
    expect(await runExitMonitor({ db: t.db, broker, config, asOf: await px.exchange.now() })).toEqual([]);

    // Step bar by bar: MSFT's MACD turns against it before the holding limit.
    const seen: Array<[string, string]> = [];
    for (let i = 0; i < 5; i++) {
      await px.exchange.advanceBars(1);
      for (const a of await runExitMonitor({ db: t.db, broker, config, asOf: await px.exchange.now() })) seen.push([a.ticker, a.kind]);
    }
    expect(seen).toContainEqual(['MSFT', 'momentum_exit']);
    expect(seen).toContainEqual(['KO', 'time_exit']);
    expect(seen).toContainEqual(['IBM', 'time_exit']);
    expect(await exitsOf('MSFT')).toEqual(['exit.momentum_exit']);
    expect(await exitsOf('KO')).toEqual(['exit.time_exit']);

    // The closing market orders fill at the next open; then nothing is held on either side.
    await px.exchange.advanceBars(1);
    await syncOpenOrders(t.db, broker);
    expect(await broker.listPositions()).toEqual([]);
    expect(await loadPositions(t.db)).toEqual([]);
    expect((await reconcile(t.db, broker)).ok).toBe(true);
  });
});
