/**
 * The backtest's result and metrics. The engine writes a `BacktestResult` (daily equity, trades and
 * vetoes per strategy); `computeMetrics` turns it into `BacktestMetrics`; the report renders both.
 *
 * Conventions: every return, exposure and drawdown is a fraction (0.012 = +1.2%), including the fields
 * named `...Pct` (kept for the issue's wording); dates are New York trading days `YYYY-MM-DD`; money is
 * in the account currency.
 */
import { z } from 'zod';
import { Finite, IsoDate, Ticker, parseOrThrow } from '../../contracts/index.ts';

/** Which critic stood between the proposer and the risk controller in the `committee` strategy. */
export const BacktestCritic = z.enum(['none', 'rules', 'ollama', 'replay']);
export type BacktestCritic = z.infer<typeof BacktestCritic>;

/** The backtest engines: `fast` (engine.ts, its own day loop and SimBroker) and `sessions` (session-replay.ts, the live session path). */
export const BacktestEngine = z.enum(['fast', 'sessions']);
export type BacktestEngine = z.infer<typeof BacktestEngine>;

/**
 * The strategies a backtest compares: the proposer alone, the proposer behind the committee, equal-weight
 * buy-and-hold of the universe, and the indices (S&P 500; the Dow where only it covers the range).
 */
export const StrategyName = z.enum(['proposer', 'committee', 'buy_and_hold', 'sp500', 'djia']);
export type StrategyName = z.infer<typeof StrategyName>;

const NonNegative = Finite.refine((v) => v >= 0, 'expected a number >= 0');
const Positive = Finite.refine((v) => v > 0, 'expected a number > 0');

/** The knobs of one run: everything needed, with the data and code version, to rerun it exactly. */
export const BacktestParams = z
  .object({
    /** Starting equity of every strategy (cash), e.g. 100000. */
    initialEquity: Positive,
    /** Commission per side in basis points of notional. */
    commissionBps: NonNegative,
    /** Slippage per side in basis points, applied against the trade to the fill price. */
    slippageBps: NonNegative,
    /** Fill model: orders decided on day t fill at the open of day t+1. */
    fill: z.literal('next_open'),
    /** Most proposals the proposer makes a day (the top ones by expected return). */
    proposalsPerDay: z.number().int().min(1),
    /** Holding horizon of a proposal in trading days (the time exit, and the veto's forward window). */
    horizonDays: z.number().int().min(1),
    /** Walk-forward: trading days between retrains of the proposer's model. */
    retrainEveryDays: z.number().int().min(1),
    /** Walk-forward: trading days of history required before the first model is trained. */
    minTrainDays: z.number().int().min(1),
    /** The tickers traded (and held equal-weight by buy-and-hold). */
    universe: z.array(Ticker).min(1),
    /** Seed of every random choice in the run (model training, critic sampling). */
    seed: z.number().int().min(0),
    /** Walk-forward: `always` replaces the model on every retrain day, `rule` only when settings retrain.promotion allows it. */
    promotion: z.enum(['always', 'rule']).optional(),
  })
  .strict();
export type BacktestParams = z.infer<typeof BacktestParams>;

/** One model of the walk-forward schedule: trained on data through `trainedThrough`, used from `usedFrom` to `usedTo`. */
export const BacktestModel = z
  .object({
    modelId: z.string().min(1),
    trainedThrough: IsoDate,
    usedFrom: IsoDate,
    usedTo: IsoDate,
  })
  .strict()
  .superRefine((m, ctx) => {
    // The no-look-ahead promise, checked where the schedule is recorded.
    if (m.trainedThrough >= m.usedFrom) {
      ctx.addIssue({ code: 'custom', path: ['trainedThrough'], message: `must be before usedFrom (${m.usedFrom})` });
    }
    if (m.usedTo < m.usedFrom) ctx.addIssue({ code: 'custom', path: ['usedTo'], message: `must not be before usedFrom (${m.usedFrom})` });
  });
export type BacktestModel = z.infer<typeof BacktestModel>;

/**
 * One retrain decision of a backtest under `promotion: rule`: the candidate trained on bars through
 * the day before `date`, the model trading until then, each one's rule metric on the candidate's
 * latest walk-forward fold (null when no comparison was made: the first model, a tie of versions).
 */
export const BacktestPromotion = z
  .object({
    date: IsoDate,
    candidate: z.object({ modelId: z.string().min(1), version: z.string().min(1), trainedThrough: IsoDate }).strict(),
    incumbent: z
      .object({ modelId: z.string().min(1), version: z.string().min(1) })
      .strict()
      .nullable(),
    metric: z.string().min(1),
    candidateValue: Finite.nullable(),
    incumbentValue: Finite.nullable(),
    maxWorsening: Finite,
    decision: z.enum(['promoted', 'refused']),
    reason: z.string(),
  })
  .strict();
export type BacktestPromotion = z.infer<typeof BacktestPromotion>;

/** A stretch of evenings on which a book's circuit breakers held it in REDUCING (settings.circuitBreakers). */
export const BreakerEpisode = z
  .object({
    strategy: z.enum(['proposer', 'committee']),
    /** The first and last evening the book was REDUCING by its breakers. */
    from: IsoDate,
    to: IsoDate,
    /** The tripped rules (CONSECUTIVE_LOSSES, HIT_RATE_FLOOR) when it moved, and why, with the numbers. */
    rules: z.array(z.string().min(1)).min(1),
    reason: z.string().min(1),
    evenings: z.number().int().min(1),
  })
  .strict();
export type BreakerEpisode = z.infer<typeof BreakerEpisode>;

/** A strategy's book at the close of one trading day. */
export const BacktestDay = z
  .object({
    date: IsoDate,
    /** Cash plus positions marked at the close. */
    equity: NonNegative,
    cash: Finite,
    /** Sum of |position market value| / equity. */
    grossExposure: NonNegative,
    /** Notional traded that day (both sides) / equity. */
    turnover: NonNegative,
  })
  .strict();
export type BacktestDay = z.infer<typeof BacktestDay>;

/** Why a position was closed. `end`: still open on the last day, marked at that close. */
export const ExitReason = z.enum(['stop', 'target', 'time', 'reversal', 'end']);
export type ExitReason = z.infer<typeof ExitReason>;

/** One closed round trip. */
export const BacktestTrade = z
  .object({
    ticker: Ticker,
    side: z.enum(['long', 'short']),
    entryDate: IsoDate,
    entryPrice: Positive,
    exitDate: IsoDate,
    exitPrice: Positive,
    quantity: Positive,
    /** Profit in money, net of commission and slippage. */
    pnl: Finite,
    /** pnl / entry notional, a fraction. */
    returnPct: Finite,
    exitReason: ExitReason,
  })
  .strict()
  .refine((t) => t.exitDate >= t.entryDate, { path: ['exitDate'], message: 'must not be before entryDate' });
export type BacktestTrade = z.infer<typeof BacktestTrade>;

/** A proposal the committee vetoed, with what it would have done had it been taken. */
export const BacktestVeto = z
  .object({
    proposalId: z.string().min(1),
    ticker: Ticker,
    /** The day the proposal was made and vetoed. */
    date: IsoDate,
    decision: z.enum(['REJECT', 'ABSTAIN']),
    /** Return the trade would have made, net of costs, entering next open and held its horizon (or to its stop/target), a fraction. */
    forwardReturnPct: Finite,
    /** forwardReturnPct < 0: the veto avoided a loss. */
    lost: z.boolean(),
  })
  .strict()
  .refine((v) => v.lost === v.forwardReturnPct < 0, { path: ['lost'], message: 'must equal forwardReturnPct < 0' });
export type BacktestVeto = z.infer<typeof BacktestVeto>;

/** One strategy's run: its daily book, closed trades, and (committee only) vetoes. */
export const StrategyRun = z
  .object({
    name: StrategyName,
    /** Human label for the report, e.g. "Proposer + committee (rules)". */
    label: z.string().min(1).max(120),
    days: z.array(BacktestDay).min(1),
    trades: z.array(BacktestTrade),
    vetoes: z.array(BacktestVeto),
  })
  .strict()
  .superRefine((run, ctx) => {
    for (let i = 1; i < run.days.length; i++) {
      const prev = run.days[i - 1];
      const day = run.days[i];
      if (prev && day && day.date <= prev.date) {
        ctx.addIssue({ code: 'custom', path: ['days', i, 'date'], message: `must be after ${prev.date} (days ascending, no repeats)` });
      }
    }
    if (run.name !== 'committee' && run.vetoes.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['vetoes'], message: `only the committee vetoes; ${run.name} has ${run.vetoes.length}` });
    }
  });
export type StrategyRun = z.infer<typeof StrategyRun>;

/** What `quorum backtest` produces (and writes as JSON). */
export const BacktestResult = z
  .object({
    from: IsoDate,
    to: IsoDate,
    critic: BacktestCritic,
    /** Which engine ran it (files written before there were two are the fast engine's). */
    engine: BacktestEngine.default('fast'),
    params: BacktestParams,
    /** Plain-language caveats shown in the report (data gaps, a fallback critic, an index missing for the range). */
    notes: z.array(z.string()),
    models: z.array(BacktestModel),
    strategies: z.array(StrategyRun).min(1),
    /** Under `promotion: rule`, every retrain day's decision, in order. */
    promotions: z.array(BacktestPromotion).optional(),
    /** With circuit breakers, when each book moved to REDUCING and why. */
    breakers: z.array(BreakerEpisode).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.to < r.from) ctx.addIssue({ code: 'custom', path: ['to'], message: `must not be before from (${r.from})` });
    const seen = new Set<StrategyName>();
    r.strategies.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['strategies', i, 'name'], message: `duplicate strategy ${s.name}` });
      seen.add(s.name);
      const first = s.days[0];
      const last = s.days[s.days.length - 1];
      if (first && first.date < r.from) ctx.addIssue({ code: 'custom', path: ['strategies', i, 'days', 0, 'date'], message: `before from (${r.from})` });
      if (last && last.date > r.to) {
        ctx.addIssue({ code: 'custom', path: ['strategies', i, 'days', s.days.length - 1, 'date'], message: `after to (${r.to})` });
      }
    });
  });
export type BacktestResult = z.infer<typeof BacktestResult>;

/** Parses a backtest result (e.g. a stored JSON file); throws INPUT_INVALID naming each bad field. */
export function parseBacktestResult(value: unknown): BacktestResult {
  return parseOrThrow(BacktestResult, value, 'backtest result');
}

/** A point estimate with its bootstrap percentile interval; null where the metric is undefined (no trades, a flat curve). */
export const Metric = z
  .object({
    value: Finite.nullable(),
    lo: Finite.nullable(),
    hi: Finite.nullable(),
  })
  .strict();
export type Metric = z.infer<typeof Metric>;

/** One strategy's metrics. Fractions throughout (cagr 0.12 = 12%/year, maxDrawdown -0.25 = a 25% fall). */
export const StrategyMetrics = z
  .object({
    /** Compound annual growth over the calendar time between the first and last day. */
    cagr: Metric,
    /** Annualised (x sqrt(252)) mean daily excess return / its standard deviation. */
    sharpe: Metric,
    /** Annualised mean daily excess return / downside deviation (root mean square of the negative parts). */
    sortino: Metric,
    /** Deepest fall from a running peak of equity, as a negative fraction in [-1, 0]. */
    maxDrawdown: Metric,
    /** Share of closed trades with pnl > 0. */
    hitRate: Metric,
    /** Mean daily turnover x 252 (times the book is traded per year). */
    turnover: Metric,
    /** Mean gross exposure. */
    exposure: Metric,
    /** Share of vetoed proposals that would have lost; null except for the committee. */
    vetoPrecision: Metric,
    trades: z.number().int().min(0),
    vetoes: z.number().int().min(0),
    days: z.number().int().min(0),
  })
  .strict();
export type StrategyMetrics = z.infer<typeof StrategyMetrics>;

/** Metrics of every strategy of a result, with how the intervals were made. */
export const BacktestMetrics = z
  .object({
    /** Two-sided level of the percentile intervals, e.g. 0.95. */
    confidence: z.number().gt(0).lt(1),
    /** Bootstrap resamples per interval. */
    resamples: z.number().int().min(1),
    /** Mean block length (days) of the stationary bootstrap of daily returns. */
    blockLength: z.number().int().min(1),
    seed: z.number().int().min(0),
    /** Annual risk-free rate subtracted in Sharpe and Sortino (0 by default). */
    riskFreeRate: Finite,
    byStrategy: z.partialRecord(StrategyName, StrategyMetrics),
  })
  .strict();
export type BacktestMetrics = z.infer<typeof BacktestMetrics>;
