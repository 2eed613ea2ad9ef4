/**
 * The backtest engine on a short slice of the bundled Dow 30: no look-ahead (perturb every price
 * after day t, nothing decided on or before t moves), the walk-forward schedule, the strategies each
 * critic yields, and an LLM critic through the same path (recorded to a cassette, then replayed).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { computeFeatureColumns, CLOSE_FEATURES } from '../../ml/index.ts';
import { createCassetteBackend, emptyCassette } from '../../evals/index.ts';
import { FEATURE_WINDOW_BARS, runBacktest, type BacktestRun, type BacktestSettings, type DayDecisions } from '../../evals/backtest/engine.ts';
import { PriceView, loadBundledPrices, type PriceData } from '../../evals/backtest/data.ts';
import { dailyBarTs, type Bar } from '../../market/index.ts';
import { NewsSearchQuery } from '../../rag/index.ts';
import type { NewsSearcher } from '../../tools/index.ts';
import { mulberry32 } from '../../contracts/random.ts';
import { obedientModel } from './support.ts';

const config = loadConfig({ env: { QUORUM_SETTINGS__LOGGING__LEVEL: 'silent' } });
const TICKERS = ['GE', 'IBM', 'KO'];
const FROM = '1995-01-03';
const TO = '1995-02-08';
/** The day after which every price is perturbed. */
const T = '1995-01-20';
const SETTINGS: Partial<BacktestSettings> = { retrainEveryDays: 8, proposalsPerDay: 2 };
const HORIZON = config.settings.training.horizonDays;

/** Every bar dated after `t` gets its prices scaled by a random factor in [0.8, 1.2]. */
function perturbAfter(data: PriceData, t: string, seed: number): PriceData {
  const rand = mulberry32(seed);
  const bars = new Map<string, Bar[]>();
  for (const [ticker, list] of data.bars) {
    bars.set(
      ticker,
      list.map((b) => {
        if (b.ts.slice(0, 10) <= t) return b;
        const f = 0.8 + 0.4 * rand();
        const scale = (x: number | null): number | null => (x === null ? null : x * f);
        return { ...b, open: scale(b.open), high: scale(b.high), low: scale(b.low), close: b.close * f };
      }),
    );
  }
  return { ...data, bars };
}

const upTo = (decisions: readonly DayDecisions[], t: string): DayDecisions[] => decisions.filter((d) => d.date <= t);

let rules: BacktestRun;
let none: BacktestRun;
const data = loadBundledPrices(TICKERS);

beforeAll(async () => {
  rules = await runBacktest({ config, data, from: FROM, to: TO, critic: 'rules', backend: 'rules', settings: SETTINGS });
  none = await runBacktest({ config, data, from: FROM, to: TO, critic: 'none', settings: SETTINGS });
}, 240_000);

describe('backtest engine', () => {
  it('no look-ahead: perturbing every price after day t changes no proposal, verdict, risk decision or order made on or before t', async () => {
    const perturbed = await runBacktest({ config, data: perturbAfter(data, T, 7), from: FROM, to: TO, critic: 'rules', backend: 'rules', settings: SETTINGS });
    const before = upTo(rules.decisions, T);
    expect(before.length).toBeGreaterThan(10);
    // The slice must have made decisions of every kind, or the comparison proves little.
    expect(before.flatMap((d) => d.proposals).length).toBeGreaterThan(5);
    expect(before.flatMap((d) => d.verdicts).length).toBeGreaterThan(5);
    expect(before.flatMap((d) => d.orders).length).toBeGreaterThan(0);
    expect(upTo(perturbed.decisions, T)).toEqual(before);
    // The books up to t, and the models trained before t, are the same too.
    for (const name of ['proposer', 'committee'] as const) {
      const a = rules.result.strategies.find((s) => s.name === name)?.days.filter((d) => d.date <= T);
      const b = perturbed.result.strategies.find((s) => s.name === name)?.days.filter((d) => d.date <= T);
      expect(b).toEqual(a);
    }
    const early = (run: BacktestRun): string[] => run.models.filter((m) => m.trainedThrough <= T).map((m) => `${m.modelId}@${m.version}`);
    expect(early(perturbed)).toEqual(early(rules));
    // And the perturbation did reach what came after t.
    const after = (run: BacktestRun): string => JSON.stringify(run.decisions.filter((d) => d.date > T).map((d) => d.proposals));
    expect(after(perturbed)).not.toEqual(after(rules));
  }, 180_000);

  it('uses at each day a model trained only on bars before that day, and records which model served which dates', () => {
    const days = new PriceView(data.bars).days;
    const models = rules.models;
    expect(models.length).toBe(Math.ceil(rules.decisions.length / (SETTINGS.retrainEveryDays ?? 1)));
    expect(models[0]?.usedFrom).toBe(FROM);
    expect(models[models.length - 1]?.usedTo).toBe(TO);
    models.forEach((m, k) => {
      const used = days.indexOf(m.usedFrom);
      // Trained through the trading day before its first day of use...
      expect(m.trainedThrough).toBe(days[used - 1]);
      // ...and its newest sample is `horizon` days older (its label is the close `horizon` days later).
      expect(m.lastSampleDate).toBe(days[used - 1 - HORIZON]);
      expect(m.samples).toBeGreaterThan(100);
      const next = models[k + 1];
      if (next) expect(days.indexOf(next.usedFrom)).toBe(days.indexOf(m.usedTo) + 1);
    });
    // Every day's decisions name the model the schedule says served that day.
    for (const d of rules.decisions.filter((x) => x.date < TO)) {
      const m = models.find((x) => x.usedFrom <= d.date && d.date <= x.usedTo);
      expect(d.modelId).toBe(m?.modelId);
    }
    expect(rules.result.models).toEqual(models.map((m) => ({ modelId: m.modelId, trainedThrough: m.trainedThrough, usedFrom: m.usedFrom, usedTo: m.usedTo })));
  });

  it('--critic none has no committee strategy; rules has both, each book judging its own top proposals', () => {
    const names = (run: BacktestRun): string[] => run.result.strategies.map((s) => s.name);
    expect(names(none)).toEqual(['proposer', 'buy_and_hold', 'djia']);
    expect(names(rules)).toEqual(['proposer', 'committee', 'buy_and_hold', 'djia']);
    // The day's proposals are the union of each book's top N (each passes over its own working tickers).
    for (const [i, d] of none.decisions.entries()) {
      const ids = new Set(rules.decisions[i]?.proposals.map((p) => p.id));
      for (const p of d.proposals) expect(ids.has(p.id)).toBe(true);
    }
    expect(none.decisions.flatMap((d) => d.verdicts)).toEqual([]);
    // The proposer alone is the same book with or without a committee beside it.
    expect(none.result.strategies[0]).toEqual(rules.result.strategies[0]);
    // The committee judged at most N a day, each one of the day's proposals, and every REJECT/ABSTAIN that would have traded is a scored veto.
    const verdicts = rules.decisions.flatMap((d) => d.verdicts);
    for (const d of rules.decisions) {
      expect(d.verdicts.length).toBeLessThanOrEqual(2);
      const ids = new Set(d.proposals.map((p) => p.id));
      for (const v of d.verdicts) expect(ids.has(v.proposalId)).toBe(true);
    }
    expect(verdicts.length).toBeGreaterThan(10);
    const committee = rules.result.strategies.find((s) => s.name === 'committee');
    const vetoed = new Set(verdicts.filter((v) => v.decision === 'REJECT' || v.decision === 'ABSTAIN').map((v) => v.proposalId));
    for (const v of committee?.vetoes ?? []) expect(vetoed.has(v.proposalId)).toBe(true);
    expect(rules.timings.committeeRuns).toBe(verdicts.length);
  });

  it("the committee's news search gets each decision's as-of, and the notes name the archive", async () => {
    const queries: NewsSearchQuery[] = [];
    const search: NewsSearcher = (q) => {
      queries.push(q);
      return Promise.resolve([]);
    };
    const run = await runBacktest({
      config,
      data,
      from: FROM,
      to: '1995-01-06',
      critic: 'rules',
      backend: 'rules',
      settings: SETTINGS,
      news: { search, source: 'a recording archive' },
    });
    const judged = run.decisions.filter((d) => d.verdicts.length > 0);
    expect(judged.length).toBeGreaterThan(0);
    expect(queries.length).toBeGreaterThanOrEqual(judged.flatMap((d) => d.verdicts).length);
    // A proposal made at day t's close sees news up to that close, never later (the order fills at t+1).
    const closes = new Set(judged.map((d) => dailyBarTs(d.date)));
    expect(new Set(queries.map((q) => NewsSearchQuery.parse(q).asOf.toISOString()))).toEqual(closes);
    expect(run.result.notes.join('\n')).toContain('the committee searches a recording archive, point in time');
    expect(rules.result.notes.join('\n')).toContain("the committee's news search finds nothing");
  });

  it('the S&P 500 appears only where its bundled series covers the range (from 2000-01-03)', () => {
    const notes = rules.result.notes.join('\n');
    expect(notes).toContain('the DJIA stands in as the index benchmark');
    expect(notes).toContain("fill at day t+1's close");
  });

  it('an LLM critic goes through the same path: recorded to a cassette, then replayed to the same verdicts', async () => {
    const short = { from: '1995-01-03', to: '1995-01-10', settings: { ...SETTINGS, proposalsPerDay: 1 } };
    const cassette = emptyCassette('scripted', 'scripted');
    const recorder = createCassetteBackend({ mode: 'record', cassette, seed: 42, inner: obedientModel() });
    const recorded = await runBacktest({ config, data, critic: 'ollama', backend: recorder, ...short });
    expect(Object.keys(cassette.entries).length).toBeGreaterThan(0);
    const replayer = createCassetteBackend({ mode: 'replay', cassette, seed: 42 });
    const replayed = await runBacktest({ config, data, critic: 'replay', backend: replayer, ...short });
    expect(replayer.misses).toEqual([]);
    expect(replayer.hits).toBeGreaterThan(0);
    const verdicts = (run: BacktestRun): unknown => run.decisions.map((d) => d.verdicts);
    expect(verdicts(replayed)).toEqual(verdicts(recorded));
    // The scripted committee answers REDUCE 0.5: the committee book trades at half the proposer's size.
    expect(recorded.decisions.flatMap((d) => d.verdicts).every((v) => v.decision === 'REDUCE' && v.sizeMultiplier === 0.5)).toBe(true);
    expect(replayed.result.critic).toBe('replay');
  }, 180_000);
});

describe('features from a trailing window', () => {
  it(`equal full-history features within 1e-7 on every bundled Dow 30 ticker (${FEATURE_WINDOW_BARS} bars)`, () => {
    const all = loadBundledPrices();
    let worst = 0;
    for (const [, bars] of all.bars) {
      const full = computeFeatureColumns(bars);
      for (let end = 600; end < bars.length; end += 97) {
        const w = computeFeatureColumns(bars.slice(end + 1 - FEATURE_WINDOW_BARS, end + 1));
        const last = w.ts.length - 1;
        for (const f of CLOSE_FEATURES) worst = Math.max(worst, Math.abs((w.columns[f][last] ?? Number.NaN) - (full.columns[f][end] ?? Number.NaN)));
      }
    }
    expect(worst).toBeLessThan(1e-7);
  });
});
