/**
 * Risk controller throughput: decisions per second on realistic inputs (budget > 50,000/s).
 * Inputs: a $100k-$500k account with 10 positions across sectors, 3 open orders, 25 orders today,
 * verdicts with three cited reasons, default rules; a rotating set of 256 so no single input is hot.
 * Every input has its own numbers, ids, decision time and order/position timestamps (as in a real
 * session, where `now` and the account move between decisions), so nothing keyed on a repeated value
 * (a string, an object) could make the controller look faster than it is.
 */
import { cpus, loadavg } from 'node:os';
import { RiskRulesSchema } from '../config/schema.ts';
import type { MarketSnapshot, PortfolioSnapshot, Proposal, Verdict } from '../contracts/index.ts';
import { checkExit, decide, type DecideInput } from '../risk/index.ts';
import type { Measurement } from './run.ts';

const NOW_MS = Date.parse('2024-03-12T15:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const TICKERS = ['AAPL', 'MSFT', 'NVDA', 'XOM', 'CVX', 'JPM', 'BAC', 'PFE', 'JNJ', 'KO', 'PEP', 'WMT', 'HD', 'CAT', 'BA', 'GE'];
const SECTORS = ['Tech', 'Energy', 'Financials', 'Health', 'Staples', 'Industrials'];

/** A small deterministic generator (the bench must be repeatable, not random). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function inputs(count: number): DecideInput[] {
  const rnd = lcg(42);
  // Frozen, as loadConfig returns it.
  const rules = Object.freeze(RiskRulesSchema.parse({}));
  const out: DecideInput[] = [];
  for (let i = 0; i < count; i++) {
    // Decisions a few seconds apart through the trading day; the account snapshot 1-5 s old.
    const nowMs = NOW_MS + Math.floor(rnd() * 3_600_000);
    const equity = Math.round(100_000 + rnd() * 400_000);
    const positions = TICKERS.slice(0, 10).map((ticker, k) => {
      const marketPrice = Math.round((20 + rnd() * 400) * 100) / 100;
      return {
        ticker,
        qty: Math.max(1, Math.floor((equity * 0.06) / marketPrice)),
        avgPrice: marketPrice * 0.97,
        marketPrice,
        sector: SECTORS[k % SECTORS.length] ?? null,
        openedAt: iso(nowMs - (1 + k) * 86_400_000 - Math.floor(rnd() * 3_600_000)),
      };
    });
    const portfolio: PortfolioSnapshot = {
      asOf: iso(nowMs - 1_000 - Math.floor(rnd() * 4_000)),
      equity,
      cash: equity * 0.4,
      buyingPower: equity * 0.8,
      lastEquity: equity * 1.002,
      peakEquity: equity * 1.03,
      positions,
      openOrders: TICKERS.slice(10, 13).map((ticker, k) => ({
        ticker,
        side: 'buy' as const,
        qty: 20 + k,
        clientOrderId: `q-${i}-${k}`,
        submittedAt: iso(nowMs - 600_000),
      })),
      dayTradesLast5Days: 1,
      recentOrderTimes: Array.from({ length: 25 }, (_, k) => iso(nowMs - 3_600_000 * 4 + k * 400_000 + Math.floor(rnd() * 60_000))),
      tradingState: 'ACTIVE',
    };
    const ticker = TICKERS[Math.floor(rnd() * TICKERS.length)] ?? 'AAPL';
    const lastPrice = Math.round((20 + rnd() * 400) * 100) / 100;
    const market: MarketSnapshot = {
      ticker,
      asOf: iso(nowMs - 60_000),
      lastPrice,
      atr: lastPrice * (0.01 + rnd() * 0.03),
      avgDollarVolume: 2e9,
      sector: SECTORS[Math.floor(rnd() * SECTORS.length)] ?? null,
      marketOpen: true,
    };
    const proposal: Proposal = {
      id: `p-${i}`,
      ticker,
      side: rnd() < 0.8 ? 'buy' : 'sell',
      probability: 0.6,
      expectedReturn: 0.012,
      horizonDays: 5,
      modelId: 'gbm',
      modelVersion: '3',
      featureSnapshotId: `fs-${i}`,
      attributions: [
        { feature: 'rsi14', value: 38, contribution: 0.04 },
        { feature: 'ret5', value: -0.02, contribution: 0.02 },
      ],
      asOf: iso(nowMs - 60_000),
    };
    const verdict: Verdict = {
      id: `v-${i}`,
      proposalId: proposal.id,
      decision: rnd() < 0.7 ? 'APPROVE' : 'REDUCE',
      sizeMultiplier: 0.5 + rnd() * 0.5,
      confidence: 0.6 + rnd() * 0.3,
      reasons: [
        { text: 'RSI(14) at 38 after a pullback to the 50-day average; model attribution led by rsi14.', evidence: ['tool:rsi-1', 'feat:rsi14'] },
        { text: 'Retrieved news shows an earnings beat and raised guidance two days before the as-of time.', evidence: ['news:123', 'news:456'] },
        { text: 'Bear case: sector rotation risk; volatility is moderate (ATR 2% of price).', evidence: ['tool:atr-1'] },
      ],
      dissent: ['bear: valuation stretched'],
      backend: 'ollama',
      model: 'mistral',
      promptVersion: 'committee-v3',
      tokens: { prompt: 5200, completion: 640 },
      abstainReason: null,
      createdAt: iso(nowMs - 30_000),
    };
    out.push({ verdict, proposal, portfolio, market, rules, now: iso(nowMs) });
  }
  return out;
}

/** Calls per wall-clock second and per second of this process's CPU time (the machine is shared). */
function perSecond(n: number, run: (i: number) => unknown): { wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; i++) run(i);
  const wallS = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu0);
  return { wall: n / wallS, cpu: n / ((used.user + used.system) / 1e6) };
}

export default async function bench(): Promise<Measurement[]> {
  const set = inputs(256);
  const mask = set.length - 1;
  const pick = (i: number): DecideInput => set[i & mask] as DecideInput;
  let allowed = 0;
  for (const input of set) if (decide(input).action !== 'DENY') allowed += 1;
  // Warm up the JIT (its optimising tier settles after ~100k calls), then the median of five rounds:
  // one round's rate moves by ±15% with GC and tier-up timing.
  perSecond(100_000, (i) => decide(pick(i)));
  const rounds = Array.from({ length: 5 }, () => perSecond(100_000, (i) => decide(pick(i))));
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const decisions = { wall: median(rounds.map((r) => r.wall)), cpu: median(rounds.map((r) => r.cpu)) };
  const spread = `rounds ${Math.round(Math.min(...rounds.map((r) => r.wall)))}-${Math.round(Math.max(...rounds.map((r) => r.wall)))}/s`;
  const exits = perSecond(200_000, (i) => {
    const input = pick(i);
    return checkExit({
      ticker: input.portfolio?.positions[i % 10]?.ticker ?? 'AAPL',
      reason: 'time-exit',
      portfolio: input.portfolio,
      market: input.market,
      rules: input.rules,
      now: input.now,
    });
  });
  const load = `load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores`;
  return [
    {
      name: 'risk decide(): decisions per second',
      value: decisions.wall,
      unit: 'ops/s',
      budget: '> 50000 ops/s',
      ok: decisions.wall > 50_000,
      notes: `wall clock, median of 5 rounds of 100k (${spread}); 256 rotating inputs, 10 positions, 25 orders today, ${allowed}/256 allowed or resized; ${load}`,
    },
    { name: 'risk decide(): decisions per CPU second', value: decisions.cpu, unit: 'ops/s', notes: `process CPU time, less sensitive to other load; ${load}` },
    {
      name: 'risk checkExit(): exit checks per second',
      value: exits.wall,
      unit: 'ops/s',
      notes: `wall clock (${Math.round(exits.cpu)}/s per CPU second); ${load}`,
    },
  ];
}
