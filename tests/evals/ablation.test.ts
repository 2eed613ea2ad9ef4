/**
 * The ablation's maths on constructed committee books: removing an agent that changes nothing has
 * an effect of exactly 0 (paired intervals [0, 0]); a book that lost more without the agent gives a
 * positive Sharpe effect; the full row is the plain metrics; ablatedConfig disables one role only.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import {
  ablatedConfig,
  ablationReport,
  computeMetrics,
  marginalEffect,
  renderAblationMarkdown,
  type BacktestResult,
  type StrategyRun,
} from '../../evals/backtest/index.ts';

function book(equity: readonly number[], vetoes: Array<{ date: number; lost: boolean }> = []): StrategyRun {
  const date = (i: number): string => `1995-02-${String(i + 1).padStart(2, '0')}`;
  return {
    name: 'committee',
    label: 'Proposer + committee (rules)',
    days: equity.map((e, i) => ({ date: date(i), equity: e, cash: e, grossExposure: 0.5, turnover: 0 })),
    trades: [],
    vetoes: vetoes.map((v, k) => ({
      proposalId: `p${k}`,
      ticker: 'GE',
      date: date(v.date),
      decision: 'REJECT',
      forwardReturnPct: v.lost ? -0.01 : 0.01,
      lost: v.lost,
    })),
  };
}
function result(committee: StrategyRun): BacktestResult {
  return {
    from: committee.days[0]?.date ?? '',
    to: committee.days[committee.days.length - 1]?.date ?? '',
    critic: 'rules',
    engine: 'fast',
    params: {
      initialEquity: 100,
      commissionBps: 0,
      slippageBps: 0,
      fill: 'next_open',
      proposalsPerDay: 1,
      horizonDays: 5,
      retrainEveryDays: 20,
      minTrainDays: 100,
      universe: ['GE'],
      seed: 0,
    },
    notes: [],
    models: [],
    strategies: [committee],
  };
}

const up = [100, 101, 100.5, 102, 103, 102.5, 104, 105, 104.5, 106, 107, 106, 108, 109, 108.5, 110];
const down = [100, 99, 100, 98, 97.5, 98, 96, 95, 96, 94, 93.5, 94, 92, 91, 92, 90];
const o = { seed: 7, resamples: 300, confidence: 0.95, blockLength: 3, name: 'bull' };

describe('ablation', () => {
  it('gives an effect of exactly 0, interval [0, 0], to an agent whose removal changes nothing', () => {
    const a = book(up, [
      { date: 2, lost: true },
      { date: 5, lost: false },
    ]);
    const e = marginalEffect(
      a,
      book(up, [
        { date: 2, lost: true },
        { date: 5, lost: false },
      ]),
      o,
    );
    expect(e.sharpe).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(e.maxDrawdown).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(e.vetoPrecision.value).toBe(0);
    // Paired by day, resampled days take the same vetoes from both books: every draw is 0 or undefined.
    expect(e.vetoPrecision.lo).toBe(0);
    expect(e.vetoPrecision.hi).toBe(0);
  });

  it('credits an agent whose removal turns a rising book into a falling one', () => {
    const e = marginalEffect(book(up, [{ date: 3, lost: true }]), book(down, [{ date: 3, lost: false }]), o);
    expect(e.sharpe.value ?? 0).toBeGreaterThan(0);
    expect(e.sharpe.lo ?? 0).toBeGreaterThan(0);
    // The full book's worst fall (-0.93%) is shallower than the falling one's (-10%).
    expect(e.maxDrawdown.value ?? 0).toBeGreaterThan(0.08);
    expect(e.vetoPrecision.value).toBe(1);
  });

  it('puts the plain metrics on the full row and one effect row per removed agent', () => {
    const full = result(book(up, [{ date: 1, lost: true }]));
    const without = result(book(down));
    const report = ablationReport(full, [{ role: 'analyst', result: without }], { seed: 3, resamples: 200 });
    const plain = computeMetrics(full, { seed: 3, resamples: 200 }).byStrategy.committee;
    expect(report.rows[0]).toMatchObject({ variant: 'full', removed: null, effect: null, sharpe: plain?.sharpe, maxDrawdown: plain?.maxDrawdown });
    expect(report.rows[1]?.variant).toBe('without_analyst');
    expect(report.rows[1]?.effect?.sharpe.value ?? 0).toBeGreaterThan(0);
    expect(renderAblationMarkdown(report)).toContain('| without analyst |');
  });

  it('disables only the removed role, in a new config', () => {
    const config = loadConfig();
    const c = ablatedConfig(config, 'risk');
    expect(c.agents.risk.enabled).toBe(false);
    expect(config.agents.risk.enabled).toBe(true);
    expect(c.agents.bull.enabled).toBe(true);
    expect(c).not.toBe(config);
    expect(() => ablatedConfig(c, 'risk')).toThrow(/risk is already disabled/);
  });
});
