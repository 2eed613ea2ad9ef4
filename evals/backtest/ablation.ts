/**
 * Value of critique: the committee's backtest replayed with each agent removed in turn (its role
 * disabled, as agents.yaml `enabled: false` does: it adds no tool calls, evidence or opinion), and
 * each agent's marginal effect on the committee book = full committee - committee without it.
 *
 * Intervals: Sharpe and max drawdown of the two books are paired day by day (same range, same
 * days), so one stationary-bootstrap resample of day indices is applied to both return series and
 * the difference of the statistic is taken on each resample. Vetoes are paired the same way: a
 * resample of days takes, from both runs, the vetoes made on the days drawn. Percentile
 * intervals throughout, seeded: the same runs give the same numbers (ADR 0034).
 */
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { AgentRole, QuorumError } from '../../contracts/index.ts';
import { mulberry32, streamSeed } from '../../contracts/random.ts';
import { defaultBlockLength, percentileInterval, stationaryIndices } from './bootstrap.ts';
import { computeMetrics, DEFAULT_CONFIDENCE, dailyReturns, maxDrawdownOf, sharpeOf, vetoPrecisionOf } from './metrics.ts';
import { Metric, type BacktestResult, type StrategyRun } from './schema.ts';

/** The roles an ablation removes, in order, when enabled (the committee gives the verdict and is never removed). */
export const ABLATABLE_ROLES: readonly AgentRole[] = AgentRole.options;

/** `config` with `role` disabled (a new object: the committee's compiled graph and prompt caches are keyed by it). */
export function ablatedConfig(config: Config, role: AgentRole): Config {
  if (!config.agents[role].enabled) throw new QuorumError('INPUT_INVALID', `--ablate: ${role} is already disabled in agents.yaml`, { field: 'ablate' });
  return { ...config, agents: { ...config.agents, [role]: { ...config.agents[role], enabled: false } } };
}

export const AblationEffect = z.object({ sharpe: Metric, maxDrawdown: Metric, vetoPrecision: Metric }).strict();
export type AblationEffect = z.infer<typeof AblationEffect>;

export const AblationRow = z
  .object({
    /** `full`, or `without_<role>`. */
    variant: z.string().min(1),
    removed: AgentRole.nullable(),
    sharpe: Metric,
    maxDrawdown: Metric,
    vetoPrecision: Metric,
    trades: z.number().int().min(0),
    vetoes: z.number().int().min(0),
    /** Marginal effect of the removed agent (full - this row), with its interval; null on the full row. */
    effect: AblationEffect.nullable(),
  })
  .strict();
export type AblationRow = z.infer<typeof AblationRow>;

export const AblationReport = z
  .object({
    confidence: z.number().gt(0).lt(1),
    resamples: z.number().int().min(1),
    seed: z.number().int().min(0),
    blockLength: z.number().int().min(1),
    rows: z.array(AblationRow).min(1),
  })
  .strict();
export type AblationReport = z.infer<typeof AblationReport>;

function committeeOf(result: BacktestResult): StrategyRun {
  const run = result.strategies.find((s) => s.name === 'committee');
  if (!run) throw new QuorumError('INPUT_INVALID', '--ablate needs a committee strategy (--critic rules, ollama or replay)', { field: 'ablate' });
  return run;
}

function withNull(value: number | null, stats: readonly (number | null)[], confidence: number): Metric {
  if (value === null) return { value: null, lo: null, hi: null };
  const { lo, hi } = percentileInterval(stats, confidence);
  return { value, lo, hi };
}

/** The marginal effect of the agent removed in `without` (full - without), with paired/independent bootstrap intervals. */
export function marginalEffect(
  full: StrategyRun,
  without: StrategyRun,
  o: { seed: number; resamples: number; confidence: number; blockLength: number; name: string },
): AblationEffect {
  const a = dailyReturns(full.days.map((d) => d.equity));
  const b = dailyReturns(without.days.map((d) => d.equity));
  if (a.length !== b.length || full.days.some((d, i) => d.date !== without.days[i]?.date)) {
    throw new QuorumError('INTERNAL', `ablation ${o.name}: the two committee books cover different days`);
  }
  const path = (rs: readonly number[]): number[] => {
    const out = [1];
    let e = 1;
    for (const r of rs) out.push((e *= 1 + r));
    return out;
  };
  const diff = (x: number | null, y: number | null): number | null => (x === null || y === null ? null : x - y);
  const rng = mulberry32(streamSeed(o.seed, `ablation:${o.name}:returns`));
  const sharpeDraws: (number | null)[] = [];
  const ddDraws: (number | null)[] = [];
  if (a.length > 0) {
    for (let k = 0; k < o.resamples; k++) {
      const idx = stationaryIndices(a.length, o.blockLength, rng);
      const ra = Array.from(idx, (i) => a[i] ?? 0);
      const rb = Array.from(idx, (i) => b[i] ?? 0);
      sharpeDraws.push(diff(sharpeOf(ra), sharpeOf(rb)));
      ddDraws.push(diff(maxDrawdownOf(path(ra)), maxDrawdownOf(path(rb))));
    }
  }
  // Vetoes are paired by day: one resample of the days picks, in both runs, the vetoes made on them.
  const vetoesByDay = (run: StrategyRun): Array<Array<{ lost: boolean }>> => {
    const at = new Map(run.days.map((d, i) => [d.date, i]));
    const out: Array<Array<{ lost: boolean }>> = run.days.map(() => []);
    for (const v of run.vetoes) out[at.get(v.date) ?? 0]?.push(v);
    return out;
  };
  const va = vetoesByDay(full);
  const vb = vetoesByDay(without);
  const vetoRng = mulberry32(streamSeed(o.seed, `ablation:${o.name}:vetoes`));
  const vetoDraws: (number | null)[] = [];
  for (let k = 0; k < o.resamples && full.days.length > 0; k++) {
    const idx = stationaryIndices(full.days.length, o.blockLength, vetoRng);
    const pick = (byDay: Array<Array<{ lost: boolean }>>): Array<{ lost: boolean }> => Array.from(idx, (i) => byDay[i] ?? []).flat();
    vetoDraws.push(diff(vetoPrecisionOf(pick(va)), vetoPrecisionOf(pick(vb))));
  }
  return {
    sharpe: withNull(diff(sharpeOf(a), sharpeOf(b)), sharpeDraws, o.confidence),
    maxDrawdown: withNull(diff(maxDrawdownOf(full.days.map((d) => d.equity)), maxDrawdownOf(without.days.map((d) => d.equity))), ddDraws, o.confidence),
    vetoPrecision: withNull(diff(vetoPrecisionOf(full.vetoes), vetoPrecisionOf(without.vetoes)), vetoDraws, o.confidence),
  };
}

/**
 * The ablation table: the full committee (its metrics exactly as a plain backtest's report gives
 * them: same seed, same resamples) and one row per removed agent with its marginal effect.
 */
export function ablationReport(
  full: BacktestResult,
  without: ReadonlyArray<{ role: AgentRole; result: BacktestResult }>,
  options: { seed: number; resamples: number; confidence?: number },
): AblationReport {
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const m = (r: BacktestResult) => {
    const metrics = computeMetrics(r, { seed: options.seed, resamples: options.resamples, confidence }).byStrategy.committee;
    if (!metrics) throw new QuorumError('INTERNAL', 'ablation: a run without a committee book');
    return metrics;
  };
  const fullRun = committeeOf(full);
  const longest = Math.max(0, ...full.strategies.map((s) => s.days.length));
  const blockLength = defaultBlockLength(longest);
  const fm = m(full);
  const rows: AblationRow[] = [
    {
      variant: 'full',
      removed: null,
      sharpe: fm.sharpe,
      maxDrawdown: fm.maxDrawdown,
      vetoPrecision: fm.vetoPrecision,
      trades: fm.trades,
      vetoes: fm.vetoes,
      effect: null,
    },
  ];
  for (const { role, result } of without) {
    const wm = m(result);
    rows.push({
      variant: `without_${role}`,
      removed: role,
      sharpe: wm.sharpe,
      maxDrawdown: wm.maxDrawdown,
      vetoPrecision: wm.vetoPrecision,
      trades: wm.trades,
      vetoes: wm.vetoes,
      effect: marginalEffect(fullRun, committeeOf(result), { seed: options.seed, resamples: options.resamples, confidence, blockLength, name: role }),
    });
  }
  return AblationReport.parse({ confidence, resamples: options.resamples, seed: options.seed, blockLength, rows });
}

function fmt(x: Metric, digits: number, pct = false): string {
  if (x.value === null) return 'n/a';
  const f = (v: number): string => (pct ? `${(v * 100).toFixed(digits)}%` : v.toFixed(digits));
  return x.lo === null || x.hi === null ? f(x.value) : `${f(x.value)} [${f(x.lo)}, ${f(x.hi)}]`;
}

/** The ablation table as Markdown. */
export function renderAblationMarkdown(r: AblationReport): string {
  const level = `${Math.round(r.confidence * 100)}%`;
  return [
    `### Value of critique: each agent removed in turn (${level} bootstrap intervals, ${r.resamples} resamples)`,
    '',
    'Effect = full committee - committee without the agent (positive Sharpe or veto precision: the agent helped; positive drawdown: it made the worst fall shallower).',
    '',
    '| committee | Sharpe | max drawdown | veto precision | trades | vetoes | effect on Sharpe | effect on max drawdown | effect on veto precision |',
    '|---|---|---|---|---:|---:|---|---|---|',
    ...r.rows.map((row) =>
      [
        row.removed === null ? 'full' : `without ${row.removed}`,
        fmt(row.sharpe, 2),
        fmt(row.maxDrawdown, 1, true),
        fmt(row.vetoPrecision, 1, true),
        String(row.trades),
        String(row.vetoes),
        row.effect ? fmt(row.effect.sharpe, 2) : '',
        row.effect ? fmt(row.effect.maxDrawdown, 1, true) : '',
        row.effect ? fmt(row.effect.vetoPrecision, 1, true) : '',
      ]
        .join(' | ')
        .replace(/^/, '| ')
        .concat(' |'),
    ),
    '',
  ].join('\n');
}

/** A cassette miss as the ablation reports it (evals/cassette.ts CassetteMiss). */
export interface AblationMiss {
  role: string;
  ticker: string | null;
  asOf: string | null;
}

/**
 * Runs the full backtest and then once per removed agent (`run` is the caller's backtest with a
 * given config; role null = the full committee). `misses`, when given, is read after each run: a
 * replay that could not answer a call fails, naming the call (agent, day, ticker) and its variant.
 */
export async function runAblations<R>(
  config: Config,
  run: (config: Config, role: AgentRole | null) => Promise<R>,
  misses?: { list: () => readonly AblationMiss[]; source: string },
): Promise<{ full: R; without: Array<{ role: AgentRole; run: R }> }> {
  const checked = async (cfg: Config, role: AgentRole | null): Promise<R> => {
    const before = misses?.list().length ?? 0;
    const result = await run(cfg, role);
    const missed = misses?.list().slice(before) ?? [];
    const first = missed[0];
    if (first && misses) {
      const where = [first.asOf ? first.asOf.slice(0, 10) : null, first.ticker].filter((x) => x !== null).join(' ');
      throw new QuorumError(
        'NOT_FOUND',
        `--ablate: ${misses.source} has no recorded answer for ${first.role}${where ? ` on ${where}` : ''} in the ${role === null ? 'full backtest' : `backtest without ${role}`} (${missed.length} call(s) missing); record it with --critic ollama --cassette FILE --ablate`,
        {
          field: 'cassette',
          variant: role === null ? 'full' : `without_${role}`,
          missing: missed.map((m) => ({ role: m.role, ticker: m.ticker, asOf: m.asOf })),
        },
      );
    }
    return result;
  };
  const full = await checked(config, null);
  const without: Array<{ role: AgentRole; run: R }> = [];
  // Each agent the configuration runs is removed in turn; one disabled in agents.yaml is not there to remove.
  for (const role of ABLATABLE_ROLES.filter((r) => config.agents[r].enabled)) without.push({ role, run: await checked(ablatedConfig(config, role), role) });
  return { full, without };
}

/** The ablation table as an HTML section (id `ablation`). */
export function renderAblationHtml(r: AblationReport): string {
  const cell = (m: Metric | undefined, digits: number, pct = false): string => `<td>${m ? fmt(m, digits, pct) : ''}</td>`;
  const rows = r.rows
    .map(
      (row) =>
        `<tr data-variant="${row.variant}"><td>${row.removed === null ? 'full committee' : `without ${row.removed}`}</td>${cell(row.sharpe, 2)}${cell(row.maxDrawdown, 1, true)}${cell(row.vetoPrecision, 1, true)}<td>${row.trades}</td><td>${row.vetoes}</td>${cell(row.effect?.sharpe, 2)}${cell(row.effect?.maxDrawdown, 1, true)}${cell(row.effect?.vetoPrecision, 1, true)}</tr>`,
    )
    .join('');
  return `<h2>Value of critique</h2>
<p class="caption">The committee replayed with each agent removed in turn; effect = full - without the agent, ${Math.round(r.confidence * 100)}% bootstrap intervals (${r.resamples} resamples; Sharpe, drawdown and vetoes paired by day).</p>
<table id="ablation"><tr><th>committee</th><th>Sharpe</th><th>max drawdown</th><th>veto precision</th><th>trades</th><th>vetoes</th><th>effect on Sharpe</th><th>effect on max drawdown</th><th>effect on veto precision</th></tr>${rows}</table>
`;
}

/** The committee with outcome memory against the same backtest without it (ADR 0035). */
export const MemoryComparison = z
  .object({
    confidence: z.number().gt(0).lt(1),
    resamples: z.number().int().min(1),
    seed: z.number().int().min(0),
    blockLength: z.number().int().min(1),
    without: AblationRow,
    with: AblationRow,
    /** with - without, paired by day. */
    effect: AblationEffect,
  })
  .strict();
export type MemoryComparison = z.infer<typeof MemoryComparison>;

function rowOf(variant: string, r: BacktestResult, o: { seed: number; resamples: number; confidence: number }): AblationRow {
  const m = computeMetrics(r, o).byStrategy.committee;
  if (!m) throw new QuorumError('INTERNAL', 'memory comparison: a run without a committee book');
  return {
    variant,
    removed: null,
    sharpe: m.sharpe,
    maxDrawdown: m.maxDrawdown,
    vetoPrecision: m.vetoPrecision,
    trades: m.trades,
    vetoes: m.vetoes,
    effect: null,
  };
}

/** Compares the committee book with memory (`withMemory`) against the one without. */
export function memoryComparison(
  withMemory: BacktestResult,
  withoutMemory: BacktestResult,
  options: { seed: number; resamples: number; confidence?: number },
): MemoryComparison {
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const o = { seed: options.seed, resamples: options.resamples, confidence };
  const blockLength = defaultBlockLength(Math.max(0, ...withMemory.strategies.map((s) => s.days.length)));
  const effect = marginalEffect(committeeOf(withMemory), committeeOf(withoutMemory), { ...o, blockLength, name: 'memory' });
  return MemoryComparison.parse({
    confidence,
    resamples: options.resamples,
    seed: options.seed,
    blockLength,
    without: rowOf('without_memory', withoutMemory, o),
    with: rowOf('with_memory', withMemory, o),
    effect,
  });
}

/** One line for the report's notes. */
export function memoryNote(m: MemoryComparison): string {
  return `Outcome memory: the committee searched the outcomes of the proposals it judged earlier in this run, each known once its horizon had passed (only outcomes known before a decision's as-of); without memory the committee book had Sharpe ${fmt(m.without.sharpe, 2)} and ${m.without.trades} trades, with it ${fmt(m.with.sharpe, 2)} and ${m.with.trades}.`;
}

/** The memory comparison as Markdown. */
export function renderMemoryMarkdown(m: MemoryComparison): string {
  const row = (label: string, r: AblationRow): string =>
    `| ${label} | ${fmt(r.sharpe, 2)} | ${fmt(r.maxDrawdown, 1, true)} | ${fmt(r.vetoPrecision, 1, true)} | ${r.trades} | ${r.vetoes} |`;
  return [
    `### Outcome memory: the committee with and without it (${Math.round(m.confidence * 100)}% bootstrap intervals)`,
    '',
    '| committee | Sharpe | max drawdown | veto precision | trades | vetoes |',
    '|---|---|---|---|---:|---:|',
    row('without memory', m.without),
    row('with memory', m.with),
    `| effect (with - without) | ${fmt(m.effect.sharpe, 2)} | ${fmt(m.effect.maxDrawdown, 1, true)} | ${fmt(m.effect.vetoPrecision, 1, true)} | | |`,
    '',
  ].join('\n');
}

/** The memory comparison as an HTML section (id `memory`). */
export function renderMemoryHtml(m: MemoryComparison): string {
  const row = (label: string, r: AblationRow): string =>
    `<tr><td>${label}</td><td>${fmt(r.sharpe, 2)}</td><td>${fmt(r.maxDrawdown, 1, true)}</td><td>${fmt(r.vetoPrecision, 1, true)}</td><td>${r.trades}</td><td>${r.vetoes}</td></tr>`;
  return `<h2>Outcome memory</h2>
<table id="memory"><tr><th>committee</th><th>Sharpe</th><th>max drawdown</th><th>veto precision</th><th>trades</th><th>vetoes</th></tr>${row('without memory', m.without)}${row('with memory', m.with)}<tr><td>effect (with - without)</td><td>${fmt(m.effect.sharpe, 2)}</td><td>${fmt(m.effect.maxDrawdown, 1, true)}</td><td>${fmt(m.effect.vetoPrecision, 1, true)}</td><td></td><td></td></tr></table>
`;
}
