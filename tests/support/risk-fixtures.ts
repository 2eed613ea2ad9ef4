/**
 * Builders and fast-check generators for the risk controller's inputs: valid contracts (every generated
 * object parses with its schema), biased so that a useful share of decisions are allowed.
 */
import fc from 'fast-check';
import { RiskRulesSchema, type RiskRules } from '../../config/schema.ts';
import type { MarketSnapshot, OpenOrderSnapshot, PortfolioSnapshot, PositionSnapshot, Proposal, Side, TradingState, Verdict } from '../../contracts/index.ts';
import type { DecideInput } from '../../risk/index.ts';

/** A Tuesday, 11:00 in New York: market open, DST in effect. */
export const NOW = '2024-03-12T15:00:00.000Z';
export const NOW_MS = Date.parse(NOW);

export const DEFAULT_RULES: RiskRules = RiskRulesSchema.parse({});

export function rules(overrides: Partial<RiskRules> = {}): RiskRules {
  return RiskRulesSchema.parse({ ...DEFAULT_RULES, ...overrides });
}

export const iso = (ms: number): string => new Date(ms).toISOString();

export function verdict(overrides: Partial<Verdict> = {}): Verdict {
  return {
    id: 'verdict-1',
    proposalId: 'proposal-1',
    decision: 'APPROVE',
    sizeMultiplier: 1,
    confidence: 0.7,
    reasons: [{ text: 'momentum and earnings beat', evidence: ['news:1', 'tool:rsi'] }],
    dissent: [],
    backend: 'rules',
    model: 'baseline',
    promptVersion: 'v1',
    tokens: { prompt: 0, completion: 0 },
    abstainReason: null,
    createdAt: NOW,
    ...overrides,
  };
}

export function proposal(overrides: Partial<Proposal> = {}): Proposal {
  return {
    id: 'proposal-1',
    ticker: 'MSFT',
    side: 'buy',
    probability: 0.62,
    expectedReturn: 0.012,
    horizonDays: 5,
    modelId: 'gbm',
    modelVersion: '1',
    featureSnapshotId: 'fs-1',
    attributions: [{ feature: 'rsi14', value: 41, contribution: 0.03 }],
    asOf: NOW,
    ...overrides,
  };
}

export function position(overrides: Partial<PositionSnapshot> = {}): PositionSnapshot {
  return { ticker: 'AAPL', qty: 10, avgPrice: 100, marketPrice: 100, sector: 'Tech', openedAt: '2024-03-01T15:00:00.000Z', ...overrides };
}

export function openOrder(overrides: Partial<OpenOrderSnapshot> = {}): OpenOrderSnapshot {
  return { ticker: 'AAPL', side: 'buy', qty: 10, clientOrderId: 'coid-1', submittedAt: iso(NOW_MS - 3_600_000), ...overrides };
}

export function portfolio(overrides: Partial<PortfolioSnapshot> = {}): PortfolioSnapshot {
  return {
    asOf: NOW,
    equity: 100_000,
    cash: 60_000,
    buyingPower: 120_000,
    lastEquity: 100_000,
    peakEquity: 100_000,
    positions: [],
    openOrders: [],
    dayTradesLast5Days: 0,
    recentOrderTimes: [],
    tradingState: 'ACTIVE',
    ...overrides,
  };
}

export function market(overrides: Partial<MarketSnapshot> = {}): MarketSnapshot {
  return { ticker: 'MSFT', asOf: NOW, lastPrice: 100, atr: 2, avgDollarVolume: 5e9, sector: 'Tech', marketOpen: true, ...overrides };
}

/** A complete input: buy 100 MSFT-sized at $100, ATR 2, in a fresh $100k account. */
export function input(overrides: Partial<DecideInput> = {}): DecideInput {
  return { verdict: verdict(), proposal: proposal(), portfolio: portfolio(), market: market(), rules: DEFAULT_RULES, now: NOW, ...overrides };
}

// ---------------------------------------------------------------------------------------------
// Generators

export const TICKERS = [
  'AAPL',
  'MSFT',
  'NVDA',
  'XOM',
  'CVX',
  'JPM',
  'BAC',
  'PFE',
  'JNJ',
  'KO',
  'PEP',
  'WMT',
  'HD',
  'CAT',
  'BA',
  'GE',
  'T',
  'VZ',
  'AMZN',
  'GOOG',
] as const;
const SECTORS = ['Tech', 'Energy', 'Financials', 'Health', 'Staples', 'Industrials', 'Telecom'] as const;
/** Each ticker's sector, so positions and market snapshots agree. */
export const SECTOR_OF: Record<string, string> = Object.fromEntries(TICKERS.map((t, i) => [t, SECTORS[i % SECTORS.length] as string]));

const cents = (x: number): number => Math.max(0.01, Math.round(x * 100) / 100);
/**
 * A real number in [min, max], spread evenly. fc.double leans hard on extremes (1e-300, the bounds),
 * which would make almost every decision a DENY and the properties vacuous; edge values have their
 * own unit tests.
 */
export const real = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 1_000_000 }).map((i) => min + ((max - min) * i) / 1_000_000);
const price = real(1, 600).map(cents);
const maybeSector = (ticker: string): fc.Arbitrary<string | null> =>
  fc.oneof({ arbitrary: fc.constant(SECTOR_OF[ticker] ?? null), weight: 9 }, { arbitrary: fc.constant(null), weight: 1 });

/** Random valid rules around the defaults (half the time exactly the defaults). */
export const arbRules: fc.Arbitrary<RiskRules> = fc.oneof(
  fc.constant(DEFAULT_RULES),
  fc
    .record({
      minVerdictConfidence: real(0, 0.9),
      maxPositions: fc.integer({ min: 10, max: 15 }),
      riskPerTradePct: real(0.1, 2),
      atrStopMultiple: real(0.5, 4),
      rewardRisk: real(1, 4),
      maxPositionPct: real(2, 25),
      maxGrossExposurePct: real(25, 200),
      maxSectorPct: real(5, 60),
      dailyLossReducePct: real(0.5, 3),
      dailyLossGap: real(0.1, 3),
      maxDrawdownPct: real(5, 30),
      maxOrdersPerMinute: fc.integer({ min: 1, max: 20 }),
      maxOrdersPerDay: fc.integer({ min: 5, max: 100 }),
      pdtEquityThreshold: fc.constantFrom(0, 25_000, 50_000),
      pdtMaxDayTrades: fc.integer({ min: 0, max: 4 }),
      marketBuyBufferPct: real(0, 5),
      minPrice: real(0, 10),
      minNotional: real(0, 500),
      maxAccountAgeSeconds: fc.integer({ min: 30, max: 600 }),
      allowShort: fc.boolean(),
      requireMarketOpen: fc.boolean(),
    })
    .map(({ dailyLossGap, ...r }) =>
      RiskRulesSchema.parse({
        ...r,
        dailyLossLimitPct: r.dailyLossReducePct + dailyLossGap,
        maxGrossExposurePct: Math.max(r.maxGrossExposurePct, r.maxPositionPct),
      }),
    ),
);

/** A position worth `weight` (a share of equity) in `ticker`; one in five is short. */
const arbPosition = (ticker: string, equity: number): fc.Arbitrary<PositionSnapshot> =>
  fc
    .record({
      ticker: fc.constant(ticker),
      weight: real(0.002, 0.12),
      short: fc.integer({ min: 0, max: 4 }).map((i) => i === 0),
      avgPrice: price,
      marketPrice: price,
      sector: maybeSector(ticker),
      // Some opened today (New York), most on earlier days.
      openedAt: fc.oneof(fc.constant(null), fc.integer({ min: NOW_MS - 4 * 86_400_000, max: NOW_MS - 60_000 }).map(iso)),
    })
    .map(({ weight, short, ...p }) => {
      const qty = Math.max(1, Math.floor((equity * weight) / p.marketPrice));
      return { ...p, qty: short ? -qty : qty };
    });

const arbOpenOrder: fc.Arbitrary<OpenOrderSnapshot> = fc.record({
  ticker: fc.constantFrom(...TICKERS),
  side: fc.constantFrom<Side>('buy', 'sell'),
  qty: fc.integer({ min: 1, max: 300 }),
  clientOrderId: fc.uuid(),
  submittedAt: fc.integer({ min: NOW_MS - 86_400_000, max: NOW_MS }).map(iso),
});

export interface PortfolioBias {
  /** Stored (operator) state; default mostly ACTIVE. */
  tradingState?: fc.Arbitrary<TradingState>;
  /** Largest account age in seconds; default 300 (mostly fresh, sometimes stale). */
  maxAgeSeconds?: number;
}

/** A random account: up to 16 positions (some short), a few open orders, recent order times. */
export function arbPortfolio(bias: PortfolioBias = {}): fc.Arbitrary<PortfolioSnapshot> {
  return fc
    .record({
      tickers: fc.uniqueArray(fc.constantFrom(...TICKERS), { maxLength: 14 }),
      equity: fc.oneof(real(5_000, 30_000), real(30_000, 2_000_000)).map(cents),
      lastMove: fc.oneof({ arbitrary: real(-0.01, 0.01), weight: 4 }, { arbitrary: real(-0.05, 0.06), weight: 1 }),
      peakMove: fc.oneof({ arbitrary: real(0, 0.05), weight: 4 }, { arbitrary: real(0, 0.3), weight: 1 }),
      cashShare: real(0, 1),
      powerMultiple: real(0, 4),
      openOrders: fc.array(arbOpenOrder, { maxLength: 4 }),
      dayTradesLast5Days: fc.integer({ min: 0, max: 5 }),
      recentOrderTimes: fc.array(fc.integer({ min: NOW_MS - 86_400_000, max: NOW_MS }), { maxLength: 40 }),
      tradingState: bias.tradingState ?? fc.constantFrom<TradingState>('ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'REDUCING', 'HALTED'),
      ageSeconds: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 25 }), weight: 4 },
        { arbitrary: fc.integer({ min: 0, max: bias.maxAgeSeconds ?? 300 }), weight: 1 },
      ),
    })
    .chain((r) =>
      fc.tuple(fc.constant(r), r.tickers.length === 0 ? fc.constant([] as PositionSnapshot[]) : fc.tuple(...r.tickers.map((t) => arbPosition(t, r.equity)))),
    )
    .map(([r, positions]) => ({
      asOf: iso(NOW_MS - r.ageSeconds * 1000),
      equity: r.equity,
      cash: cents(r.equity * r.cashShare),
      buyingPower: cents(r.equity * r.powerMultiple),
      lastEquity: cents(r.equity * (1 + r.lastMove)),
      peakEquity: cents(Math.max(r.equity, r.equity * (1 + r.lastMove)) * (1 + r.peakMove)),
      positions,
      openOrders: r.openOrders,
      dayTradesLast5Days: r.dayTradesLast5Days,
      recentOrderTimes: [...r.recentOrderTimes].sort((a, b) => a - b).map(iso),
      tradingState: r.tradingState,
    }));
}

/** A random market snapshot for `ticker`, with the ticker's sector. */
export function arbMarket(ticker: string): fc.Arbitrary<MarketSnapshot> {
  return fc
    .record({
      ticker: fc.constant(ticker),
      asOf: fc.constant(NOW),
      lastPrice: price,
      atr: fc.oneof({ arbitrary: real(0.003, 0.08), weight: 9 }, { arbitrary: fc.constant(null), weight: 1 }),
      avgDollarVolume: fc.oneof(fc.constant(null), real(0, 1e10)),
      sector: maybeSector(ticker),
      marketOpen: fc.oneof({ arbitrary: fc.constant(true), weight: 9 }, { arbitrary: fc.constant(false), weight: 1 }),
    })
    .map((m) => ({ ...m, atr: m.atr === null ? null : Math.max(0.0001, m.lastPrice * m.atr) }));
}

/** A verdict for `proposalId`, mostly APPROVE/REDUCE with a confident committee. */
export const arbVerdict = (proposalId: string, favourable = false): fc.Arbitrary<Verdict> =>
  fc
    .record({
      decision: favourable
        ? fc.constantFrom<Verdict['decision']>('APPROVE', 'REDUCE')
        : fc.constantFrom<Verdict['decision']>('APPROVE', 'APPROVE', 'APPROVE', 'REDUCE', 'REDUCE', 'REJECT', 'ABSTAIN'),
      sizeMultiplier: fc.oneof(fc.constant(1), favourable ? real(0.3, 1) : real(0, 1)),
      confidence: favourable ? real(0.9, 1) : fc.oneof({ arbitrary: real(0.55, 1), weight: 4 }, { arbitrary: real(0, 1), weight: 1 }),
    })
    .map((v) => verdict({ ...v, proposalId, sizeMultiplier: v.decision === 'REJECT' || v.decision === 'ABSTAIN' ? 0 : v.sizeMultiplier }));

export interface InputBias extends PortfolioBias {
  rules?: fc.Arbitrary<RiskRules>;
  /** Only confident APPROVE/REDUCE verdicts with a sizeable multiplier and no explicit base size, so more orders pass. */
  favourable?: boolean;
}

/**
 * A complete random input. Half the proposals are on a held ticker (so some orders reduce a
 * position); the market snapshot is for the proposal's ticker.
 */
export function arbDecideInput(bias: InputBias = {}): fc.Arbitrary<DecideInput> {
  return arbPortfolio(bias).chain((p) => {
    const held = p.positions.map((x) => x.ticker);
    const ticker = held.length > 0 ? fc.oneof(fc.constantFrom(...held), fc.constantFrom(...TICKERS)) : fc.constantFrom(...TICKERS);
    return fc
      .record({
        ticker,
        side: fc.constantFrom<Side>('buy', 'sell'),
        rules: bias.rules ?? arbRules,
        baseQty: bias.favourable ? fc.constant(undefined) : fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: undefined, freq: 4 }),
      })
      .chain(({ ticker: t, side, rules: r, baseQty }) =>
        fc.record({ market: arbMarket(t), verdict: arbVerdict(`proposal-${t}`, bias.favourable) }).map(({ market: m, verdict: v }) => {
          const out: DecideInput = { verdict: v, proposal: proposal({ id: `proposal-${t}`, ticker: t, side }), portfolio: p, market: m, rules: r, now: NOW };
          if (baseQty !== undefined) out.baseQty = baseQty;
          return out;
        }),
      );
  });
}
