/**
 * Eval scenarios: one YAML file per situation (a proposal, the market before it, the news and the
 * book), with the constraints a sound committee's verdict must meet. Every object is `.strict()`: an
 * unknown field, a missing expectation or a citation of an item the scenario does not give fails to
 * load, and the error names the file, the field path and its line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import {
  Attribution,
  Decision,
  EvidenceId,
  Finite,
  IsoDateTime,
  QuorumError,
  Side,
  Ticker,
  TradingState,
  Unit,
  fieldIssues,
  type FieldIssue,
  type Proposal,
} from '../contracts/index.ts';

/** The situations the suite covers (each has several scenarios). */
export const ScenarioCategory = z.enum([
  'earnings-surprise',
  'macro-shock',
  'fraud-or-halt',
  'analyst-downgrade',
  'stale-news',
  'contradictory-news',
  'prompt-injection',
  'low-liquidity',
  'high-volatility',
  'clean-trend',
  'mean-reversion',
  'no-news',
]);
export type ScenarioCategory = z.infer<typeof ScenarioCategory>;

/** Bars loaded from one of the bundled price files (data/samples/prices), up to the as-of time. */
export const CsvBars = z
  .object({
    kind: z.literal('csv'),
    /** File name inside data/samples/prices, e.g. `DowJones30.csv`. */
    file: z.string().regex(/^[A-Za-z0-9._-]+\.csv$/, 'expected a file name like DowJones30.csv'),
    /** Column of a wide file (DowJones30.csv) to read; default: the proposal's ticker. Ignored for OHLCV files. */
    column: Ticker.optional(),
    /** Bars kept up to the as-of time (enough for the indicators: 120). */
    lookback: z.number().int().min(1).max(2000).default(120),
  })
  .strict();
export type CsvBars = z.infer<typeof CsvBars>;

/**
 * A modelled series (labelled `synthetic` in the report): used only where the bundled data lacks
 * what the situation needs, e.g. the volume of a thinly traded small cap.
 */
export const SyntheticBars = z
  .object({
    kind: z.literal('synthetic'),
    bars: z.number().int().min(1).max(2000).default(120),
    start: z.number().positive(),
    /** Daily drift (0.002 = +0.2% a day). */
    drift: Finite,
    /** Daily noise, about one standard deviation of the daily return. */
    noise: z.number().min(0).max(0.5),
    /** Shares a day. */
    volume: z.number().min(0),
    seed: z.number().int().min(0).default(7),
    /** A last-day move (0.2 = +20%) applied to the final bar, e.g. a gap on news. */
    lastMove: Finite.optional(),
  })
  .strict();
export type SyntheticBars = z.infer<typeof SyntheticBars>;

export const ScenarioMarket = z
  .object({
    bars: z.discriminatedUnion('kind', [CsvBars, SyntheticBars]),
  })
  .strict();
export type ScenarioMarket = z.infer<typeof ScenarioMarket>;

/** A news item of the scenario. Its id is the evidence id the committee may cite. */
export const ScenarioNews = z
  .object({
    id: EvidenceId.regex(/^news:[a-z0-9][a-z0-9._-]*$/, 'expected an evidence id like "news:msft-ruling"'),
    publishedAt: IsoDateTime,
    title: z.string().min(1).max(300),
    body: z.string().min(1).max(4000),
    tickers: z.array(Ticker).max(10),
    source: z.string().min(1).max(100),
  })
  .strict();
export type ScenarioNews = z.infer<typeof ScenarioNews>;

/** The proposal without the ids the runner assigns (they may be given, too). */
export const ScenarioProposal = z
  .object({
    id: z.string().min(1).optional(),
    ticker: Ticker,
    side: Side,
    probability: Unit,
    expectedReturn: Finite,
    horizonDays: z.number().int().positive(),
    modelId: z.string().min(1).default('eval-model'),
    modelVersion: z.string().min(1).default('scenario'),
    featureSnapshotId: z.string().min(1).optional(),
    attributions: z.array(Attribution).max(64).default([]),
  })
  .strict();

/** A compact book: what the portfolio tool reads (positions, equity, cash, trading state). */
export const ScenarioPortfolio = z
  .object({
    equity: z.number().positive(),
    cash: Finite,
    tradingState: TradingState.default('ACTIVE'),
    positions: z
      .array(
        z
          .object({
            ticker: Ticker,
            qty: Finite,
            avgPrice: z.number().positive(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();
export type ScenarioPortfolio = z.infer<typeof ScenarioPortfolio>;

/** The constraints on the verdict. At least one is required. */
export const Expectation = z
  .object({
    /** The decision must be one of these. */
    decisionIn: z.array(Decision).min(1).optional(),
    /** APPROVE is wrong here (REDUCE, REJECT, ABSTAIN are fine). */
    mustNotApprove: z.boolean().optional(),
    /** The size multiplier must be at most this. */
    maxSizeMultiplier: Unit.optional(),
    /** Evidence ids (news items of the scenario) the verdict's reasons must cite. */
    mustCite: z.array(EvidenceId).min(1).optional(),
    /** The one item the decision turns on; a good verdict cites it. */
    decisive: EvidenceId.optional(),
  })
  .strict()
  .refine((e) => Object.values(e).some((v) => v !== undefined), {
    message: 'at least one expectation is required (decisionIn, mustNotApprove, maxSizeMultiplier, mustCite or decisive)',
  });
export type Expectation = z.infer<typeof Expectation>;

export const Scenario = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{2,80}$/, 'expected a kebab-case id'),
    category: ScenarioCategory,
    description: z.string().min(1).max(2000),
    /** The real situation the scenario is written from (and what, if anything, is modelled). */
    source: z.string().min(1).max(500),
    asOf: IsoDateTime,
    proposal: ScenarioProposal,
    market: ScenarioMarket,
    news: z.array(ScenarioNews).max(20),
    portfolio: ScenarioPortfolio,
    expect: Expectation,
  })
  .strict()
  .superRefine((s, ctx) => {
    const ids = new Set(s.news.map((n) => n.id));
    s.news.forEach((n, i) => {
      if (s.news.findIndex((m) => m.id === n.id) !== i) ctx.addIssue({ code: 'custom', path: ['news', i, 'id'], message: `duplicate news id ${n.id}` });
      if (Date.parse(n.publishedAt) > Date.parse(s.asOf)) {
        ctx.addIssue({ code: 'custom', path: ['news', i, 'publishedAt'], message: `published after the scenario's asOf ${s.asOf} (no look-ahead)` });
      }
    });
    s.expect.mustCite?.forEach((id, i) => {
      if (!ids.has(id)) ctx.addIssue({ code: 'custom', path: ['expect', 'mustCite', i], message: `"${id}" is not one of the scenario's news ids` });
    });
    if (s.expect.decisive !== undefined && !ids.has(s.expect.decisive)) {
      ctx.addIssue({ code: 'custom', path: ['expect', 'decisive'], message: `"${s.expect.decisive}" is not one of the scenario's news ids` });
    }
  });
export type Scenario = z.infer<typeof Scenario>;

/** Where the bundled scenarios live. */
export const DEFAULT_SCENARIOS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios');
/** The suite must cover at least this many scenarios. */
export const MIN_SCENARIOS = 40;

/** The 1-based line of the YAML node at `issuePath` (or of its nearest ancestor that exists). */
function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, issuePath: readonly (string | number)[], unknownKey?: string): number | null {
  const find = (p: readonly (string | number)[]): YamlNode | null => {
    const node: unknown = p.length === 0 ? doc.contents : doc.getIn(p, true);
    return node && typeof node === 'object' && 'range' in node ? (node as YamlNode) : null;
  };
  if (unknownKey !== undefined) {
    const parent = find(issuePath);
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === unknownKey);
      if (pair && isScalar(pair.key) && pair.key.range) return counter.linePos(pair.key.range[0]).line;
    }
  }
  for (let n = issuePath.length; n >= 0; n--) {
    const node = find(issuePath.slice(0, n));
    if (node?.range) return counter.linePos(node.range[0]).line;
  }
  return null;
}

/**
 * Parses and validates one scenario's YAML text. `file` labels the errors:
 * `evals/scenarios/x.yaml:12: expect.decisionIn.0: Invalid option…`.
 */
export function parseScenario(text: string, file: string): Scenario {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e?.linePos?.[0]?.line ?? null;
    throw new QuorumError('INPUT_INVALID', `${file}${line ? `:${line}` : ''}: invalid YAML: ${e?.message ?? 'unknown error'}`, { file, line });
  }
  const raw: unknown = doc.toJS();
  const result = Scenario.safeParse(raw);
  if (result.success) return result.data;
  const issues: Array<FieldIssue & { line: number | null }> = result.error.issues.map((issue, i) => {
    const base = fieldIssues(result.error)[i] ?? { path: '', message: issue.message };
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const fieldPath = keys.length > 0 ? [base.path, keys[0]].filter(Boolean).join('.') : base.path;
    const segs = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
    return { path: fieldPath || '(root)', message: base.message, line: lineOf(doc, counter, segs, keys[0]) };
  });
  const first = issues[0];
  const where = `${file}${first?.line ? `:${first.line}` : ''}`;
  const message = issues.map((i) => `${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`).join('; ');
  throw new QuorumError('INPUT_INVALID', `${where}: ${message}`, { file, field: first?.path ?? null, line: first?.line ?? null, issues });
}

/** Reads and validates one scenario file. */
export function loadScenarioFile(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new QuorumError('INPUT_INVALID', `cannot read scenario ${file}: ${(error as Error).message}`, { file }, { cause: error });
  }
  const scenario = parseScenario(text, file);
  const expected = path.basename(file).replace(/\.ya?ml$/, '');
  if (scenario.id !== expected) {
    throw new QuorumError('INPUT_INVALID', `${file}: id: "${scenario.id}" must match the file name "${expected}"`, { file, field: 'id' });
  }
  return scenario;
}

/** Loads every `*.yaml` in `dir` (sorted by file name); all files must load, or nothing does. */
export function loadScenarios(dir: string = DEFAULT_SCENARIOS_DIR, filter?: (s: Scenario) => boolean): Scenario[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort();
  } catch (error) {
    throw new QuorumError('INPUT_INVALID', `cannot read the scenario directory ${dir}: ${(error as Error).message}`, { dir }, { cause: error });
  }
  const scenarios = names.map((n) => loadScenarioFile(path.join(dir, n)));
  return filter ? scenarios.filter(filter) : scenarios;
}

/** The complete, contract-valid proposal of a scenario (ids derived from the scenario id). */
export function scenarioProposal(s: Scenario): Proposal {
  const p = s.proposal;
  return {
    id: p.id ?? `eval-${s.id}`,
    ticker: p.ticker,
    side: p.side,
    probability: p.probability,
    expectedReturn: p.expectedReturn,
    horizonDays: p.horizonDays,
    modelId: p.modelId,
    modelVersion: p.modelVersion,
    featureSnapshotId: p.featureSnapshotId ?? `fs-eval-${s.id}`,
    attributions: p.attributions,
    asOf: s.asOf,
  };
}
