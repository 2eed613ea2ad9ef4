import { mulberry32 } from '../../contracts/random.ts';
import { BacktestResult, type BacktestDay, type BacktestTrade, type BacktestVeto, type StrategyName, type StrategyRun } from '../../evals/backtest/schema.ts';

/** `n` consecutive weekdays from `start` (YYYY-MM-DD). */
export function weekdays(start: string, n: number): string[] {
  const out: string[] = [];
  const d = new Date(`${start}T00:00:00Z`);
  while (out.length < n) {
    const wd = d.getUTCDay();
    if (wd !== 0 && wd !== 6) out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

/** A daily book from dates and equities (flat cash, the given exposure and turnover). */
export function book(dates: readonly string[], equity: readonly number[], exposure = 0.5, turnover = 0.02): BacktestDay[] {
  return dates.map((date, i) => ({ date, equity: equity[i] ?? 0, cash: (equity[i] ?? 0) * (1 - exposure), grossExposure: exposure, turnover }));
}

/** An equity curve of `n` days of seeded normal-ish returns with the given daily mean and volatility. */
export function randomCurve(n: number, seed: number, mean = 0.0005, vol = 0.01): number[] {
  const rand = mulberry32(seed);
  const out = [100_000];
  for (let i = 1; i < n; i++) {
    // Sum of 12 uniforms minus 6: a cheap, seeded near-normal draw.
    let z = -6;
    for (let k = 0; k < 12; k++) z += rand();
    out.push((out[i - 1] ?? 1) * (1 + mean + vol * z));
  }
  return out;
}

export function trade(pnl: number, over: Partial<BacktestTrade> = {}): BacktestTrade {
  return {
    ticker: 'MSFT',
    side: 'long',
    entryDate: '2000-01-03',
    entryPrice: 100,
    exitDate: '2000-01-10',
    exitPrice: 100 + pnl / 10,
    quantity: 10,
    pnl,
    returnPct: pnl / 1000,
    exitReason: 'time',
    ...over,
  };
}

export function veto(forwardReturnPct: number, i: number): BacktestVeto {
  return { proposalId: `p${i}`, ticker: 'IBM', date: '2000-01-04', decision: 'REJECT', forwardReturnPct, lost: forwardReturnPct < 0 };
}

export function run(name: StrategyName, days: BacktestDay[], trades: BacktestTrade[] = [], vetoes: BacktestVeto[] = [], label?: string): StrategyRun {
  return { name, label: label ?? name, days, trades, vetoes };
}

/** A schema-valid result (parsed, so a test double can never drift from the contract). */
export function result(strategies: StrategyRun[], over: Partial<BacktestResult> = {}): BacktestResult {
  const dates = strategies.flatMap((s) => s.days.map((d) => d.date)).sort();
  const first = dates[0] ?? '2000-01-03';
  const dayBefore = new Date(Date.parse(`${first}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return BacktestResult.parse({
    from: dates[0] ?? '2000-01-03',
    to: dates[dates.length - 1] ?? '2000-01-03',
    critic: 'rules',
    params: {
      initialEquity: 100_000,
      commissionBps: 1,
      slippageBps: 5,
      fill: 'next_open',
      proposalsPerDay: 5,
      horizonDays: 10,
      retrainEveryDays: 63,
      minTrainDays: 500,
      universe: ['MSFT', 'IBM'],
      seed: 7,
    },
    notes: [],
    models: [{ modelId: 'gbt-1', trainedThrough: dayBefore, usedFrom: first, usedTo: dates[dates.length - 1] ?? first }],
    strategies,
    ...over,
  });
}
