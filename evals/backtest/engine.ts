/**
 * The backtest engine: a day-by-day replay of history with the same proposer (ml/), committee
 * (graph/ runCommittee), pure risk controller (risk/ decide, through execution's riskCheck) and a
 * simulated broker that fills with execution's fill model.
 *
 * One trading day t, in order:
 *  1. orders decided the evening before fill at t's open (its close for close-only data);
 *  2. bracket legs (stop, target) are checked on t's bar;
 *  3. every book is marked at t's close;
 *  4. the exit monitor's rules run on closes up to t (time exit, MACD reversal, breakeven stop);
 *  5. on a retrain day, a new model is trained on bars through t-1 (walk-forward, expanding window);
 *  6. the proposer scores features at t's close; each strategy takes the most confident proposals for tickers
 *     with no order working on its own book (as a session does):
 *     `proposer` (the proposal as its own APPROVE verdict) and `committee` (the committee's verdict),
 *     each through execution's `riskCheck` (risk/ `decide`) against its own book, at the next session's open.
 * Nothing in steps 2-6 reads a bar after t: every read goes through PriceView with the day's index.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemorySaver } from '@langchain/langgraph';
import pLimit from 'p-limit';
import type { Config } from '../../config/index.ts';
import {
  QuorumError,
  type AgentOpinion,
  type MarketSnapshot,
  type PortfolioSnapshot,
  type Proposal,
  type RiskDecision,
  type Verdict,
} from '../../contracts/index.ts';
import { migrate, openPglite, type Db } from '../../db/index.ts';
import { allowsOrder, exitSignal, riskCheck } from '../../execution/index.ts';
import { runCommittee, type CommitteeBackend } from '../../graph/index.ts';
import type { NewsSearcher } from '../../tools/index.ts';
import type { Embedder } from '../../rag/index.ts';
import { createBacktestMemory, type BacktestMemory } from './memory.ts';
import {
  ATR_PERIOD,
  DOLLAR_VOLUME_DAYS,
  NYSE,
  averageDollarVolume,
  averageTrueRange,
  dailyBarTs,
  newYorkToUtc,
  upsertBars,
  type Bar,
} from '../../market/index.ts';
import {
  CLOSE_FEATURES,
  ClassificationMetrics,
  exportModel,
  judgePromotion,
  metricOf,
  recordDecision,
  registerModel,
  searchHyperparameters,
  featureSnapshotFromBars,
  loadProposer,
  samplesFromBars,
  scoreSnapshot,
  sortSamples,
  storeFeatureSnapshot,
  storeProposals,
  trainGbt,
  type FeatureSnapshot,
  type GbtParams,
  type ProductionModel,
  type Proposer,
  type Sample,
} from '../../ml/index.ts';
import { circuitBreakerFor, tradingStateFor, type CircuitBreakerRules } from '../../risk/index.ts';
import { outcomeReflector, topProposals } from '../../sessions/index.ts';
import { SimBroker, hypotheticalTrade, type CostModel, type FillEvent, type Lot } from './broker.ts';
import { PriceView, barDate, resolveRange, type PriceData } from './data.ts';
import {
  BacktestResult,
  type BacktestCritic,
  type BacktestDay,
  type BacktestModel,
  type BacktestPromotion,
  type BacktestVeto,
  type BreakerEpisode,
  type StrategyRun,
} from './schema.ts';

/**
 * Bars each day's features are computed from. Every feature is causal and settles long before this
 * (EMA50's seed weighs (49/51)^350 ≈ 1e-6 of itself after 400 bars); on the bundled Dow 30 the
 * values differ from full-history ones by < 1e-7 (tested), while a day costs 1/6 of the full history.
 */
export const FEATURE_WINDOW_BARS = 400;
/** Closes the momentum-reversal check reads (as the exit monitor). */
export const EXIT_MONITOR_BARS = 200;
/**
 * The committee's news search in a backtest: no point-in-time news archive covers the bundled prices
 * (the bundled Reuters items are from 1987), so every search finds nothing, which agents are told.
 */
export const emptyNewsArchive: NewsSearcher = () => Promise.resolve([]);
/** Fewest labelled samples a walk-forward model is trained on. */
export const MIN_TRAIN_SAMPLES = 100;

/** The knobs of a run (settings.backtest, overridable per run). */
export interface BacktestSettings {
  initialEquity: number;
  commissionBps: number;
  slippageBps: number;
  proposalsPerDay: number;
  retrainEveryDays: number;
  minTrainDays: number;
  /** null: the label horizon. */
  holdingDays: number | null;
  /** `always`: each retrained model trades from its first day; `rule`: only when settings retrain.promotion allows it. */
  promotion: 'always' | 'rule';
  /** Apply settings.circuitBreakers (unless the option `circuitBreakers` gives the rules). */
  circuitBreakers: boolean;
}

export interface BacktestOptions {
  config: Config;
  data: PriceData;
  from: string;
  to: string;
  critic: BacktestCritic;
  /** Who judges in the committee strategy: `rules`, or an LLM backend (Ollama, a cassette replay). Required unless critic is `none`. */
  backend?: CommitteeBackend;
  /** Overrides of settings.backtest. */
  settings?: Partial<BacktestSettings>;
  /** Where the walk-forward models are written; default a temporary folder removed at the end. */
  workDir?: string;
  /** The committee's database (proposals, transcripts, the book its portfolio tool reads); default an in-memory PGlite. */
  db?: Db;
  /**
   * The committee's point-in-time news search (every query carries the proposal's as-of, and nothing
   * published after it is returned); default emptyNewsArchive. `source` names it in the notes.
   */
  news?: { search: NewsSearcher; source: string };
  /**
   * Outcome memory (ADR 0035): with an embedder, judged proposals' outcomes are stored once their
   * position closed or their horizon passed (an LLM backend reflecting on each) and the committee searches them.
   */
  memory?: { embedder: Embedder };
  onProgress?: (progress: { done: number; total: number; date: string }) => void;
  /**
   * The risk controller's circuit breakers (settings.circuitBreakers), as live sessions apply them:
   * each book's own closed trades so far trip them. Absent: the backtest decides without breakers.
   */
  circuitBreakers?: CircuitBreakerRules;
}

/** The model id every walk-forward candidate is registered under in the backtest's own database, so the promotion rule compares each with the one in use. */
export const BACKTEST_PROMOTION_MODEL_ID = 'backtest-walk-forward';

/** One model of the walk-forward schedule, with what it was trained on. */
export interface ModelRecord extends BacktestModel {
  version: string;
  /** Date of the newest training sample: `horizon` trading days before trainedThrough (its label needs the later close). */
  lastSampleDate: string;
  firstSampleDate: string;
  samples: number;
  trainMs: number;
}

/** Everything decided on one day, for audits and the no-look-ahead test. */
export interface DayDecisions {
  date: string;
  modelId: string | null;
  proposals: Array<{ id: string; ticker: string; side: 'buy' | 'sell'; probability: number }>;
  verdicts: Array<{ proposalId: string; decision: Verdict['decision']; sizeMultiplier: number; confidence: number }>;
  /** The committee's agents' stances on each judged proposal (for the scorecards). */
  opinions: Array<{ proposalId: string; role: AgentOpinion['role']; stance: AgentOpinion['stance']; confidence: number }>;
  risk: Array<{
    strategy: 'proposer' | 'committee';
    proposalId: string;
    decisionId: string;
    action: RiskDecision['action'];
    finalQty: number;
    stop: number | null;
    target: number | null;
  }>;
  orders: Array<{ strategy: string; ticker: string; side: 'buy' | 'sell'; qty: number; kind: 'entry' | 'exit'; reason: string }>;
}

export interface BacktestRun {
  result: BacktestResult;
  models: ModelRecord[];
  decisions: DayDecisions[];
  /** Fills and rejections of the simulated broker, per strategy. */
  fills: Record<string, Array<FillEvent & { date: string }>>;
  timings: { totalMs: number; trainMs: number; proposeMs: number; committeeMs: number; committeeRuns: number };
}

/** settings.backtest with a run's overrides, each checked (a bad one names its flag). */
export function resolveSettings(config: Config, overrides: Partial<BacktestSettings> | undefined): BacktestSettings {
  const s = { ...config.settings.backtest, ...overrides };
  const positive = (v: number, field: string, integer: boolean): void => {
    if (!Number.isFinite(v) || v < 0 || (integer && (!Number.isInteger(v) || v < 1))) {
      throw new QuorumError('INPUT_INVALID', `--${field}: expected ${integer ? 'a positive integer' : 'a number >= 0'}, got ${v}`, { field });
    }
  };
  positive(s.initialEquity, 'initial-equity', false);
  positive(s.commissionBps, 'commission-bps', false);
  positive(s.slippageBps, 'slippage-bps', false);
  positive(s.proposalsPerDay, 'proposals-per-day', true);
  positive(s.retrainEveryDays, 'retrain-every', true);
  positive(s.minTrainDays, 'min-train-days', true);
  if (s.holdingDays !== null) positive(s.holdingDays, 'holding-days', true);
  if (s.promotion !== 'always' && s.promotion !== 'rule')
    throw new QuorumError('INPUT_INVALID', `--promotion: expected always or rule, got ${String(s.promotion)}`, { field: 'promotion' });
  if (s.initialEquity <= 0)
    throw new QuorumError('INPUT_INVALID', `--initial-equity: expected a number > 0, got ${s.initialEquity}`, { field: 'initial-equity' });
  return s;
}

/** The settings a backtest report lists (both engines). */
export function reportParams(s: BacktestSettings, holdingDays: number, tickers: readonly string[], config: Config) {
  return {
    initialEquity: s.initialEquity,
    commissionBps: s.commissionBps,
    slippageBps: s.slippageBps,
    fill: 'next_open' as const,
    proposalsPerDay: s.proposalsPerDay,
    horizonDays: holdingDays,
    retrainEveryDays: s.retrainEveryDays,
    minTrainDays: s.minTrainDays,
    universe: [...tickers],
    seed: Math.max(0, config.models.llm.seed),
  };
}

/** The proposer's own verdict when nothing stands between it and the risk controller: APPROVE at full size, confidence max(p, 1-p). */
export function proposerVerdict(p: Proposal, createdAt: string): Verdict {
  return {
    id: `vd_proposer_${p.id}`,
    proposalId: p.id,
    decision: 'APPROVE',
    sizeMultiplier: 1,
    confidence: Math.round(Math.max(p.probability, 1 - p.probability) * 10_000) / 10_000,
    reasons: [],
    dissent: [],
    backend: 'none',
    model: `${p.modelId}@${p.modelVersion}`,
    promptVersion: 'none',
    tokens: { prompt: 0, completion: 0 },
    abstainReason: null,
    createdAt,
  };
}

/** The risk controller's market facts of `ticker` from bars up to day `i` (close-only: a close-to-close ATR). */
export function marketAt(view: PriceView, ticker: string, i: number, now: string, sectors: Readonly<Record<string, string>>): MarketSnapshot | null {
  const bars = view.barsUpTo(ticker, i, Math.max(ATR_PERIOD + 1, DOLLAR_VOLUME_DAYS));
  const last = bars[bars.length - 1];
  if (!last) return null;
  return {
    ticker,
    asOf: now,
    lastPrice: last.close,
    atr: averageTrueRange(bars),
    avgDollarVolume: averageDollarVolume(bars),
    sector: sectors[ticker] ?? null,
    marketOpen: NYSE.isMarketOpen(now),
  };
}

/** The instant decisions made after day `date`'s close take effect: the next session's open. */
function nextOpen(nextDate: string): string {
  return NYSE.session(nextDate)?.open ?? newYorkToUtc(nextDate, 9, 30);
}

/** When a book's kill switch said HALTED, and why (counted per evening). */
interface Halts {
  evenings: number;
  first: string;
  last: string;
  reasons: Record<string, number>;
}

interface Book {
  name: 'proposer' | 'committee';
  broker: SimBroker;
  /** Equity at the previous close (the daily-loss reference) and the high-water mark. */
  lastEquity: number;
  peakEquity: number;
  pendingVetoes: Array<{
    proposal: Proposal;
    dayIdx: number;
    decision: 'REJECT' | 'ABSTAIN';
    side: 'long' | 'short';
    stop: number | null;
    target: number | null;
  }>;
}

/** Writes the committee's book into the tables its read-only portfolio tool reads. */
async function syncBookTables(db: Db, book: Book, view: PriceView, i: number, asOf: string, state: string, openedAt: (lot: Lot) => string): Promise<void> {
  const priceOf = (t: string): number | null => view.closeAt(t, i);
  const equity = book.broker.equity(priceOf);
  await db.transaction(async (tx) => {
    await tx.query('DELETE FROM positions');
    for (const ticker of book.broker.heldTickers()) {
      const lots = book.broker.lots.filter((l) => l.ticker === ticker);
      const shares = lots.reduce((a, l) => a + l.qty, 0);
      const avg = lots.reduce((a, l) => a + l.entryPrice * l.qty, 0) / shares;
      const first = lots.reduce((a, l) => (l.entryIdx < a.entryIdx ? l : a));
      await tx.query('INSERT INTO positions (ticker, qty, avg_price, opened_at) VALUES ($1, $2, $3, $4)', [
        ticker,
        book.broker.positionQty(ticker),
        avg,
        openedAt(first),
      ]);
    }
    await tx.query(
      `INSERT INTO equity_history (ts, equity, cash, source) VALUES ($1, $2, $3, 'backtest') ON CONFLICT (ts) DO UPDATE SET equity = EXCLUDED.equity, cash = EXCLUDED.cash`,
      [asOf, equity, book.broker.cash],
    );
    await tx.query(`UPDATE trading_state SET state = $1, reason = 'backtest', updated_at = $2 WHERE id = 1`, [state, asOf]);
  });
}

/**
 * Trains the walk-forward model used from day `i`: samples from bars through day i-1 only (a
 * sample's label needs the close `horizon` days later, so the newest sample is `horizon` days older:
 * the purge gap), the same GBT as `quorum train`, exported to ONNX with its card and loaded by the
 * same proposer.
 */
export async function trainModelFor(
  view: PriceView,
  i: number,
  config: Config,
  dir: string,
  recipe: 'fixed' | 'train',
): Promise<{
  proposer: Proposer;
  record: Omit<ModelRecord, 'usedTo'>;
  samples: Sample[];
  params: GbtParams;
  cardPath: string;
  card: ReturnType<typeof exportModel>['card'];
}> {
  const started = performance.now();
  const t = config.settings.training;
  const through = view.days[i - 1] ?? '';
  const samples: Sample[] = [];
  for (const ticker of view.tickers) {
    samples.push(
      ...samplesFromBars(ticker, view.barsUpTo(ticker, i - 1), { features: CLOSE_FEATURES, horizonDays: t.horizonDays, labelThreshold: t.labelThreshold }),
    );
  }
  sortSamples(samples);
  if (samples.length < MIN_TRAIN_SAMPLES) {
    throw new QuorumError(
      'INPUT_INVALID',
      `only ${samples.length} labelled samples through ${through}: too few to train (need ${MIN_TRAIN_SAMPLES}); start later or lower --min-train-days less`,
      {
        field: 'from',
      },
    );
  }
  // `train`: the hyper-parameters `quorum train` would choose on these samples (settings.training's
  // search and early stopping on the validation fold); `fixed`: settings.training's values.
  const search = recipe === 'train' ? searchHyperparameters(samples, t) : null;
  const params: GbtParams = search
    ? { trees: search.chosen.bestTrees, maxDepth: search.chosen.maxDepth, learningRate: search.chosen.learningRate, minSamplesLeaf: t.minSamplesLeaf }
    : { trees: t.trees, maxDepth: t.maxDepth, learningRate: t.learningRate, minSamplesLeaf: t.minSamplesLeaf };
  const model = trainGbt(
    samples.map((s) => s.x),
    samples.map((s) => s.y),
    params,
  );
  const modelId = `wf-${through}`;
  const exported = exportModel({
    model,
    samples,
    features: CLOSE_FEATURES,
    tickers: view.tickers,
    training: t,
    params,
    search,
    folds: [],
    modelId,
    outDir: path.join(dir, modelId),
    description: `walk-forward backtest model trained on bars through ${through}`,
    now: new Date(dailyBarTs(through)),
  });
  const proposer = await loadProposer(exported.cardPath);
  return {
    proposer,
    samples,
    params,
    cardPath: exported.cardPath,
    card: exported.card,
    record: {
      modelId,
      version: exported.card.version,
      trainedThrough: through,
      usedFrom: view.days[i] ?? '',
      firstSampleDate: samples[0]?.date ?? '',
      lastSampleDate: samples[samples.length - 1]?.date ?? '',
      samples: samples.length,
      trainMs: performance.now() - started,
    },
  };
}

/** Buy-and-hold of the universe, equal weight, bought at the first day's fill and held to the end. */
export function buyAndHold(view: PriceView, fromIdx: number, toIdx: number, s: BacktestSettings, costs: CostModel): StrategyRun {
  const broker = new SimBroker('buy_and_hold', costs, s.initialEquity);
  const tickers = view.tickers.filter((t) => view.barOn(t, fromIdx) !== null);
  const budget = s.initialEquity / Math.max(1, tickers.length);
  for (const t of tickers) {
    const bar = view.barOn(t, fromIdx);
    if (!bar) continue;
    const px = (bar.open ?? bar.close) * (1 + costs.slippageBps / 10_000) * (1 + costs.commissionBps / 10_000);
    const qty = Math.floor(budget / px);
    if (qty > 0)
      broker.submit({
        kind: 'entry',
        ticker: t,
        side: 'buy',
        qty,
        stop: null,
        target: null,
        holdingDays: Number.MAX_SAFE_INTEGER,
        refPrice: px,
        submittedAt: dailyBarTs(view.days[fromIdx] ?? ''),
        ref: `bh-${t}`,
      });
  }
  for (let i = fromIdx; i <= toIdx; i++) {
    const date = view.days[i] ?? '';
    if (i === fromIdx) broker.fillPending(i, date, (t) => view.barOn(t, i));
    broker.markToMarket(date, (t) => view.closeAt(t, i));
  }
  broker.closeAllAtEnd(view.days[toIdx] ?? '', toIdx, (t) => view.closeAt(t, toIdx));
  return { name: 'buy_and_hold', label: `Buy and hold, equal weight (${tickers.length} tickers)`, days: broker.days, trades: broker.trades, vetoes: [] };
}

/** An index rebased to the initial equity on the first day it covers in the range (no costs, no dividends). */
export function indexRun(
  name: 'sp500' | 'djia',
  label: string,
  bars: readonly Bar[] | null,
  view: PriceView,
  fromIdx: number,
  toIdx: number,
  equity0: number,
): StrategyRun | null {
  if (!bars) return null;
  const byDate = new Map(bars.map((b) => [barDate(b), b.close]));
  const days: BacktestDay[] = [];
  let base: number | null = null;
  for (let i = fromIdx; i <= toIdx; i++) {
    const date = view.days[i] ?? '';
    const close = byDate.get(date);
    if (close === undefined) continue;
    base ??= close;
    days.push({ date, equity: (equity0 * close) / base, cash: 0, grossExposure: 1, turnover: 0 });
  }
  return days.length > 0 ? { name, label, days, trades: [], vetoes: [] } : null;
}

/**
 * A news search whose results are also copied into the backtest's own database (id, source, title,
 * snippet as body, published time, sentiment): the committee's retrieval records point at the items
 * they retrieved, and the archive searched is another database (the user's news store).
 */
function copyingSearch(db: Db, search: NewsSearcher): NewsSearcher {
  const copied = new Set<string>();
  return async (query) => {
    const results = await search(query);
    for (const r of results) {
      if (copied.has(r.id)) continue;
      await db.query(
        `INSERT INTO news_items (id, source, url, title, body, published_at, content_hash, sentiment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [r.id, r.source, r.url, r.title, r.snippet, r.publishedAt, `copy:${r.id}`, r.sentiment],
      );
      copied.add(r.id);
    }
    return results;
  };
}

/** Runs a backtest. */
export async function runBacktest(options: BacktestOptions): Promise<BacktestRun> {
  const started = performance.now();
  const { config, critic } = options;
  const s = resolveSettings(config, options.settings);
  const rules = config.riskRules;
  const sectors = config.settings.market.sectors;
  const horizon = config.settings.training.horizonDays;
  const holdingDays = s.holdingDays ?? horizon;
  const exits = config.settings.execution.exits;
  if (critic !== 'none' && !options.backend) throw new QuorumError('INPUT_INVALID', `--critic ${critic} needs a committee backend`, { field: 'critic' });

  const view = new PriceView(options.data.bars);
  const range = resolveRange(view, options.from, options.to, s.minTrainDays);
  const { fromIdx, toIdx } = range;
  const costs: CostModel = { commissionBps: s.commissionBps, slippageBps: s.slippageBps };
  const dir = options.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'quorum-backtest-'));
  const ownsDir = options.workDir === undefined;
  const openedAt = (lot: Lot): string => nextOpen(lot.entryDate);

  const books: Book[] = [
    {
      name: 'proposer',
      broker: new SimBroker('proposer', costs, s.initialEquity),
      lastEquity: s.initialEquity,
      peakEquity: s.initialEquity,
      pendingVetoes: [],
    },
  ];
  if (critic !== 'none')
    books.push({
      name: 'committee',
      broker: new SimBroker('committee', costs, s.initialEquity),
      lastEquity: s.initialEquity,
      peakEquity: s.initialEquity,
      pendingVetoes: [],
    });
  const committeeBook = books.find((b) => b.name === 'committee') ?? null;

  let db: Db | null = null;
  const ownsDb = critic !== 'none' && !options.db;
  const timings = { totalMs: 0, trainMs: 0, proposeMs: 0, committeeMs: 0, committeeRuns: 0 };
  const models: ModelRecord[] = [];
  const decisions: DayDecisions[] = [];
  let proposer: Proposer | null = null;
  let current: Omit<ModelRecord, 'usedTo'> | null = null;
  let memory: BacktestMemory | null = null;
  const halts: Record<string, Halts> = {};
  const promotions: BacktestPromotion[] = [];
  // The circuit breakers: the option's rules, else settings.circuitBreakers when settings.backtest.circuitBreakers.
  const cb = options.circuitBreakers ?? (s.circuitBreakers ? config.settings.circuitBreakers : undefined);
  const breakerEpisodes: BreakerEpisode[] = [];
  const openEpisodes = new Map<Book['name'], BreakerEpisode>();
  // Under `promotion: rule`: the model in use as the rule's production, and where decisions are also recorded (the backtest's database, when it has one).
  let incumbent: ProductionModel | null = null;
  /** Each evening, a book's breakers over its closed trades: a move to REDUCING opens an episode, a move back closes it. */
  const trackBreakers = (book: Book, date: string): void => {
    if (!cb) return;
    const a = circuitBreakerFor(
      book.broker.trades.map((t) => ({ modelId: book.name, closedAt: t.exitDate, pnl: t.pnl })),
      cb,
    );
    const open = openEpisodes.get(book.name);
    if (a.state === 'REDUCING') {
      if (open) {
        open.to = date;
        open.evenings += 1;
      } else {
        const episode: BreakerEpisode = {
          strategy: book.name,
          from: date,
          to: date,
          rules: a.rules.filter((r) => !r.passed).map((r) => r.rule),
          reason: a.reason,
          evenings: 1,
        };
        openEpisodes.set(book.name, episode);
        breakerEpisodes.push(episode);
      }
    } else if (open) openEpisodes.delete(book.name);
  };

  try {
    if (critic !== 'none') {
      db = options.db ?? (await openPglite(null));
      if (ownsDb) await migrate(db);
      // The committee's tools read bars from the database, always point in time (ts <= the proposal's
      // as-of): nothing after the last day is ever read, so nothing after it is stored.
      const all = view.tickers.flatMap((t) => [...view.barsUpTo(t, toIdx)]);
      const target = db;
      await target.transaction((tx) => upsertBars(tx, all));
    }
    const promoDb = s.promotion === 'rule' ? (db ?? options.db ?? null) : null;
    const limit = pLimit(config.settings.committee.concurrency);
    const newsSearch = db && options.news ? copyingSearch(db, options.news.search) : null;
    memory =
      db && options.memory
        ? createBacktestMemory(db, options.memory.embedder, {
            closes: () => committeeBook?.broker.closedLots ?? [],
            reflect: options.backend ? outcomeReflector(options.backend, config) : undefined,
          })
        : null;

    for (let i = fromIdx; i <= toIdx; i++) {
      const date = view.days[i] ?? '';
      const barOn = (t: string): Bar | null => view.barOn(t, i);
      const priceOf = (t: string): number | null => view.closeAt(t, i);
      const log: DayDecisions = { date, modelId: current?.modelId ?? null, proposals: [], verdicts: [], opinions: [], risk: [], orders: [] };

      // 1-3: the open's fills, the bracket legs, the close.
      for (const book of books) {
        book.broker.fillPending(i, date, barOn);
        book.broker.checkBrackets(i, date, barOn);
        const day = book.broker.markToMarket(date, priceOf);
        if (i > fromIdx) {
          const prev = book.broker.days[book.broker.days.length - 2];
          book.lastEquity = prev?.equity ?? book.lastEquity;
        }
        book.peakEquity = Math.max(book.peakEquity, day.equity);
      }
      options.onProgress?.({ done: i - fromIdx + 1, total: toIdx - fromIdx + 1, date });
      // Decisions need a next bar to fill on: none on the last day.
      if (i === toIdx) {
        decisions.push(log);
        break;
      }
      const now = nextOpen(view.days[i + 1] ?? date);
      const last5 = view.days.slice(Math.max(0, i - 4), i + 1);
      const snapshotOf = (book: Book): PortfolioSnapshot =>
        book.broker.snapshot({ now, priceOf, lastEquity: book.lastEquity, peakEquity: book.peakEquity, sectors, last5Days: last5, openedAt });

      // 4: the exit monitor's rules, per book; under HALTED only the bracket legs at the broker act.
      for (const book of books) {
        const assessed = tradingStateFor(snapshotOf(book), rules, now);
        if (assessed.state === 'HALTED') {
          const h = (halts[book.name] ??= { evenings: 0, first: date, last: date, reasons: {} });
          h.evenings += 1;
          h.last = date;
          const why = assessed.reason.startsWith('drawdown') ? 'drawdown' : assessed.reason.startsWith('daily loss') ? 'daily loss' : 'other';
          h.reasons[why] = (h.reasons[why] ?? 0) + 1;
          continue;
        }
        for (const ticker of book.broker.heldTickers()) {
          const lots = book.broker.lots.filter((l) => l.ticker === ticker);
          const bars = view.barsUpTo(ticker, i, EXIT_MONITOR_BARS);
          const held = (lot: Lot): number => bars.filter((b) => barDate(b) > lot.entryDate).length;
          const closes = bars.map((b) => b.close);
          const side = book.broker.positionQty(ticker) > 0 ? 'long' : 'short';
          // The exit monitor's rules (execution's exitSignal), per lot: each lot has its own entry, stop and age.
          const signals = lots.map((lot) => ({
            lot,
            signal: exitSignal(
              { side, heldBars: held(lot), maxHoldingBars: lot.holdingDays, closes, entryPrice: lot.entryPrice, initialStop: lot.initialStop, stop: lot.stop },
              exits,
            ),
          }));
          const exitOrder = (exiting: readonly Lot[], reason: 'time' | 'reversal'): void => {
            const qty = exiting.reduce((a, l) => a + l.qty, 0);
            book.broker.submit({
              kind: 'exit',
              ticker,
              qty,
              lotIds: exiting.map((l) => l.id),
              reason,
              submittedAt: now,
              ref: `${book.name}-${reason}-${ticker}-${date}`,
            });
            log.orders.push({ strategy: book.name, ticker, side: side === 'long' ? 'sell' : 'buy', qty, kind: 'exit', reason });
          };
          const expired = signals.filter((x) => x.signal?.kind === 'time_exit').map((x) => x.lot);
          if (expired.length > 0) {
            exitOrder(expired, 'time');
            continue;
          }
          if (signals.some((x) => x.signal?.kind === 'momentum_exit')) {
            exitOrder(lots, 'reversal');
            continue;
          }
          for (const { lot, signal } of signals) if (signal?.kind === 'breakeven_stop') lot.stop = signal.stop;
        }
      }

      // 5: walk-forward retraining (the model used from day i knows bars through day i-1 only).
      if ((i - fromIdx) % s.retrainEveryDays === 0) {
        const t0 = performance.now();
        const trained = await trainModelFor(view, i, config, dir, s.promotion === 'rule' ? 'train' : 'fixed');
        let replace = true;
        if (s.promotion === 'rule') {
          // The rule of `quorum train` (ml/promotion judgePromotion) with the model in use as production.
          const card = { ...trained.card, modelId: BACKTEST_PROMOTION_MODEL_ID };
          const rule = config.settings.retrain.promotion;
          const d = await judgePromotion({ card, dataset: trained.samples, params: trained.params }, incumbent, rule, config.settings.training.folds);
          if (promoDb) {
            await registerModel(promoDb, card, trained.cardPath, 'staging');
            await recordDecision(promoDb, {
              modelId: card.modelId,
              candidateVersion: card.version,
              actor: 'backtest',
              who: 'backtest',
              rule: { ...rule },
              ...d,
            });
          }
          replace = d.decision === 'promoted';
          if (replace) incumbent = { version: card.version, path: trained.cardPath, card };
          // The decision's metrics as decidePromotion stored them (without the reliability bins); none when nothing was compared.
          const value = (side: 'candidate' | 'production'): number | null => {
            const m = ClassificationMetrics.omit({ calibration: true }).safeParse(d.metrics[side]);
            if (!m.success) return null;
            const v = metricOf({ ...m.data, calibration: [] }, rule.metric);
            return Number.isFinite(v) ? v : null;
          };
          promotions.push({
            date,
            candidate: { modelId: trained.record.modelId, version: trained.record.version, trainedThrough: trained.record.trainedThrough },
            incumbent: current ? { modelId: current.modelId, version: current.version } : null,
            metric: rule.metric,
            candidateValue: value('candidate'),
            incumbentValue: value('production'),
            maxWorsening: rule.maxWorsening,
            decision: d.decision,
            reason: d.reason,
          });
        }
        if (replace) {
          if (current && i > fromIdx) models.push({ ...current, usedTo: view.days[i - 1] ?? current.usedFrom });
          await proposer?.session.release();
          proposer = trained.proposer;
          current = trained.record;
        } else await trained.proposer.session.release();
        timings.trainMs += performance.now() - t0;
      }
      if (!proposer || !current) throw new QuorumError('INTERNAL', 'no model for the day');
      log.modelId = current.modelId;

      // 6: proposals at the close, scored once; each book takes its own top N of them (below).
      const t1 = performance.now();
      const asOf = dailyBarTs(date);
      const windows: Record<string, readonly Bar[]> = {};
      for (const t of view.tickers) windows[t] = view.barsUpTo(t, i, FEATURE_WINDOW_BARS);
      const snap: FeatureSnapshot = featureSnapshotFromBars(asOf, windows);
      const scored = await scoreSnapshot(snap, { proposer, settings: config.settings });
      // Each book, as a session on its own account, passes over tickers with an order still working
      // there (sessions/run.ts prepareSession) and takes the next most confident proposals.
      const chosenFor = new Map<Book['name'], Proposal[]>();
      for (const book of books) {
        const working = book.broker.workingTickers();
        chosenFor.set(
          book.name,
          topProposals(
            scored.proposals.filter((p) => !working.has(p.ticker)),
            s.proposalsPerDay,
          ),
        );
      }
      const chosen = [...new Map([...chosenFor.values()].flat().map((p) => [p.id, p])).values()];
      const committeeChosen = chosenFor.get('committee') ?? [];
      timings.proposeMs += performance.now() - t1;
      log.proposals = chosen.map((p) => ({ id: p.id, ticker: p.ticker, side: p.side, probability: p.probability }));

      const verdicts = new Map<string, Verdict>();
      if (committeeBook && db && options.backend && committeeChosen.length > 0) {
        const t2 = performance.now();
        const cdb = db;
        const backend = options.backend;
        await memory?.settle(view, i);
        await storeFeatureSnapshot(cdb, snap);
        await storeProposals(cdb, committeeChosen);
        await syncBookTables(cdb, committeeBook, view, i, asOf, tradingStateFor(snapshotOf(committeeBook), rules, now).state, openedAt);
        const results = await Promise.all(
          committeeChosen.map((p) =>
            limit(() =>
              // A checkpointer per run, in memory: a backtest is rerun, not resumed, and the database
              // checkpointer's writes cost about half of a committee run.
              runCommittee({
                db: cdb,
                config,
                proposal: p,
                backend,
                searchNews: newsSearch ?? emptyNewsArchive,
                searchOutcomes: memory?.search,
                threadId: `bt-${p.id}`,
                checkpointer: new MemorySaver(),
                now: () => new Date(now),
              }),
            ),
          ),
        );
        for (const [k, r] of results.entries()) {
          verdicts.set(r.verdict.proposalId, r.verdict);
          const judged = committeeChosen[k];
          if (judged) memory?.judged(judged, r.verdict, i);
          for (const o of r.opinions) log.opinions.push({ proposalId: r.verdict.proposalId, role: o.role, stance: o.stance, confidence: o.confidence });
        }
        timings.committeeMs += performance.now() - t2;
        timings.committeeRuns += results.length;
      }

      for (const book of books) {
        if (cb) trackBreakers(book, date);
        for (const p of chosenFor.get(book.name) ?? []) {
          const market = marketAt(view, p.ticker, i, now, sectors);
          if (!market) continue;
          const own = proposerVerdict(p, now);
          const verdict = book.name === 'proposer' ? own : verdicts.get(p.id);
          if (!verdict) continue;
          if (book.name === 'committee')
            log.verdicts.push({ proposalId: p.id, decision: verdict.decision, sizeMultiplier: verdict.sizeMultiplier, confidence: verdict.confidence });
          const portfolio = snapshotOf(book);
          const breakers = cb ? { rules: cb, trades: book.broker.trades.map((t) => ({ modelId: p.modelId, closedAt: t.exitDate, pnl: t.pnl })) } : undefined;
          const decision = riskCheck({ verdict, proposal: p, portfolio, market, rules, now }, breakers);
          log.risk.push({
            strategy: book.name,
            proposalId: p.id,
            decisionId: decision.id,
            action: decision.action,
            finalQty: decision.finalQty,
            stop: decision.stop,
            target: decision.target,
          });
          if (book.name === 'committee' && (verdict.decision === 'REJECT' || verdict.decision === 'ABSTAIN')) {
            // A veto that mattered: the proposal as its own verdict would have traded on this book.
            const probe = riskCheck({ verdict: own, proposal: p, portfolio, market, rules, now }, breakers);
            if (allowsOrder(probe)) {
              const held = book.broker.positionQty(p.ticker);
              const opening = held === 0 || held > 0 === (p.side === 'buy');
              book.pendingVetoes.push({
                proposal: p,
                dayIdx: i,
                decision: verdict.decision,
                side: p.side === 'buy' ? 'long' : 'short',
                stop: opening ? probe.stop : null,
                target: opening ? probe.target : null,
              });
            }
          }
          if (!allowsOrder(decision)) continue;
          const held = book.broker.positionQty(p.ticker);
          const reducing = held !== 0 && held > 0 !== (p.side === 'buy');
          const ref = `${book.name}-${p.id}`;
          if (reducing) {
            book.broker.submit({
              kind: 'exit',
              ticker: p.ticker,
              qty: Math.min(decision.finalQty, Math.abs(held)),
              lotIds: null,
              reason: 'reversal',
              submittedAt: now,
              ref,
            });
          } else {
            book.broker.submit({
              kind: 'entry',
              ticker: p.ticker,
              side: p.side,
              qty: decision.finalQty,
              stop: decision.stop,
              target: decision.target,
              holdingDays,
              refPrice: market.lastPrice,
              submittedAt: now,
              ref,
            });
          }
          log.orders.push({
            strategy: book.name,
            ticker: p.ticker,
            side: p.side,
            qty: decision.finalQty,
            kind: reducing ? 'exit' : 'entry',
            reason: 'proposal',
          });
        }
      }
      decisions.push(log);
    }
    if (current) models.push({ ...current, usedTo: view.days[toIdx] ?? current.usedFrom });
  } finally {
    await proposer?.session.release();
    if (ownsDb) await db?.close();
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  }

  const lastDate = view.days[toIdx] ?? '';
  const strategies: StrategyRun[] = [];
  for (const book of books) {
    book.broker.closeAllAtEnd(lastDate, toIdx, (t) => view.closeAt(t, toIdx));
    // Vetoes are scored after the replay, from the bars after the veto: nothing above read them.
    const vetoes: BacktestVeto[] = [];
    for (const v of book.pendingVetoes) {
      const bars = view.barsBetween(v.proposal.ticker, v.dayIdx, toIdx);
      const trade = hypotheticalTrade(bars, { side: v.side, stop: v.stop, target: v.target, holdingDays, costs });
      if (!trade) continue;
      vetoes.push({
        proposalId: v.proposal.id,
        ticker: v.proposal.ticker,
        date: view.days[v.dayIdx] ?? '',
        decision: v.decision,
        forwardReturnPct: trade.returnPct,
        lost: trade.returnPct < 0,
      });
    }
    const label = book.name === 'proposer' ? 'Proposer alone (risk controller only)' : `Proposer + committee (${critic})`;
    strategies.push({ name: book.name, label, days: book.broker.days, trades: book.broker.trades, vetoes });
  }
  strategies.push(buyAndHold(view, fromIdx, toIdx, s, costs));
  const sp = indexRun('sp500', 'S&P 500 index (price)', options.data.indices.sp500, view, fromIdx, toIdx, s.initialEquity);
  const dj = indexRun('djia', 'Dow Jones Industrial Average (price)', options.data.indices.djia, view, fromIdx, toIdx, s.initialEquity);
  if (sp) strategies.push(sp);
  if (dj) strategies.push(dj);

  const notes = resultNotes({
    view,
    fromIdx,
    toIdx,
    s,
    holdingDays,
    horizon,
    models,
    sp,
    dj,
    halts,
    critic,
    sources: options.data.sources,
    exits,
    news: options.news?.source ?? null,
    promotions: s.promotion === 'rule' ? { rule: config.settings.retrain.promotion, decisions: promotions } : null,
    breakers: cb ? { rules: cb, episodes: breakerEpisodes } : null,
  });
  timings.totalMs = performance.now() - started;
  const result = BacktestResult.parse({
    from: range.from,
    to: range.to,
    critic,
    params: { ...reportParams(s, holdingDays, view.tickers, config), promotion: s.promotion },
    notes,
    models: models.map((m) => ({ modelId: m.modelId, trainedThrough: m.trainedThrough, usedFrom: m.usedFrom, usedTo: m.usedTo })),
    strategies,
    ...(s.promotion === 'rule' ? { promotions } : {}),
    ...(cb ? { breakers: breakerEpisodes } : {}),
  });
  const fills: Record<string, Array<FillEvent & { date: string }>> = {};
  for (const book of books) fills[book.name] = book.broker.fills;
  return { result, models, decisions, fills, timings };
}

function resultNotes(input: {
  view: PriceView;
  fromIdx: number;
  toIdx: number;
  s: BacktestSettings;
  holdingDays: number;
  horizon: number;
  models: ModelRecord[];
  sp: StrategyRun | null;
  dj: StrategyRun | null;
  halts: Record<string, Halts>;
  critic: BacktestCritic;
  sources: string[];
  exits: Config['settings']['execution']['exits'];
  news: string | null;
  promotions: { rule: Config['settings']['retrain']['promotion']; decisions: readonly BacktestPromotion[] } | null;
  breakers: { rules: CircuitBreakerRules; episodes: readonly BreakerEpisode[] } | null;
}): string[] {
  const { view, fromIdx, toIdx, s, models } = input;
  const closeOnly = view.tickers.every((t) => view.barsUpTo(t, toIdx, 1)[0]?.open === null);
  const notes: string[] = [...input.sources];
  notes.push(
    closeOnly
      ? "Fills: orders decided after the close of day t are market orders for day t+1; the universe file has no opens, so they fill at day t+1's close (not its open), plus slippage."
      : "Fills: orders decided after the close of day t fill at day t+1's open, plus slippage (at the close where a bar has no open).",
    closeOnly
      ? 'Brackets: stops and targets are checked on closes only (no highs or lows): a stop fills at the close that crossed it (minus slippage), a target at its limit price.'
      : "Brackets: stops and targets are checked on each bar's high and low (stop first when both are hit); a gap through fills at the open.",
    `Risk decisions are taken at the next session's open with the book marked at the last close; the daily-loss limit compares the last two closes; an automatic HALTED is not latched (no operator to resume) but a drawdown halt lasts while the drawdown does.`,
    `Exits: time exit ${input.holdingDays} trading days after the fill (${input.holdingDays === input.horizon ? 'the label horizon' : 'settings.backtest.holdingDays'}), ${input.exits.momentumReversal ? 'momentum reversal (MACD 12/26/9 crossing against the position), ' : ''}stop moved to breakeven at +${input.exits.breakevenAtR}R; time and reversal exits fill at the next bar like any order.`,
    `Walk-forward: ${models.length} model(s), retrained every ${s.retrainEveryDays} trading days on an expanding window; each is trained on bars through the day before its first day of use, and its newest sample is ${input.horizon} trading days older still (its label needs that later close: purge gap = horizon).`,
    `Features are computed each day from the last ${FEATURE_WINDOW_BARS} bars of each ticker (the training set from full histories; the two differ by < 1e-7 on these data).`,
    `Costs: commission ${s.commissionBps} bps and slippage ${s.slippageBps} bps per side; buy-and-hold pays them once on entry; the indices are rebased without costs.`,
    `Each model strategy acts, as a session on its own account, on the ${s.proposalsPerDay} most confident proposals a day for tickers with no order working on its book (a waiting order, or a held lot's stop and target); each has its own book from ${s.initialEquity} cash (a cash account: no shorts unless risk_rules.yaml allowShort).`,
    "Buy-and-hold uses the universe file's adjusted closes (dividends likely included); the S&P 500 and DJIA series are price indices (no dividends), which favours buy-and-hold by about the dividend yield.",
  );
  const first = view.days[fromIdx] ?? '';
  const spFirst = input.sp?.days[0]?.date;
  if (!input.sp)
    notes.push(`S&P 500: the bundled series (from 2000-01-03) does not cover ${first}..${view.days[toIdx] ?? ''}; the DJIA stands in as the index benchmark.`);
  else if (spFirst && spFirst > first)
    notes.push(
      `S&P 500: the bundled series starts ${spFirst}, so its curve covers only ${spFirst}..${view.days[toIdx] ?? ''} (rebased there); the DJIA covers the whole range. No daily S&P 500 series for 1995-1999 was found in Debian's packages.`,
    );
  if (input.critic !== 'none') {
    notes.push(
      "Committee runs use an in-memory checkpointer per run (a backtest is rerun, not resumed); their transcripts go to the backtest's own in-memory database.",
      input.news
        ? `News: the committee searches ${input.news}, point in time (nothing published after a decision's as-of is returned).`
        : "News: no news archive was given to this run (without --news; the bundled Reuters items are from 1987, before the Dow 30 prices): the committee's news search finds nothing, so the critics judge on prices, indicators and the book.",
    );
  }
  if (input.promotions) {
    const { rule, decisions } = input.promotions;
    const refused = decisions.filter((d) => d.decision === 'refused').length;
    notes.push(
      `Promotion (--promotion rule): each retrain trains a candidate as \`quorum train\` does (settings.training's search and early stopping) and replaces the model in use only when its ${rule.metric} on its latest walk-forward fold is not worse than the incumbent's recipe retrained on that fold by more than ${rule.maxWorsening} (settings retrain.promotion): ${decisions.length - refused} of ${decisions.length} retrain(s) promoted, ${refused} refused.`,
    );
  }
  if (input.breakers) {
    const r = input.breakers.rules;
    const eps = input.breakers.episodes;
    notes.push(
      `Circuit breakers (settings.circuitBreakers: ${r.maxConsecutiveLosses || 'no'} losses in a row, hit rate floor ${r.minHitRate || 'off'} over ${r.hitRateWindow} trades), on each book's own closed trades: ${eps.length === 0 ? 'no book moved to REDUCING' : `${eps.length} move(s) to REDUCING`}.`,
    );
    for (const e of eps) {
      notes.push(
        `${e.strategy}: REDUCING by ${e.rules.join(' and ')} from ${e.from} to ${e.to} (${e.evenings} evening(s); ${e.reason}): only orders that reduce a position passed.`,
      );
    }
  }
  for (const [name, h] of Object.entries(input.halts)) {
    const why = Object.entries(h.reasons)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    notes.push(
      `${name}: HALTED by the kill switch on ${h.evenings} evening(s) between ${h.first} and ${h.last} (${why}; limits in risk_rules.yaml): no new entries, no time or reversal exits then (brackets still act).`,
    );
  }
  return notes;
}
