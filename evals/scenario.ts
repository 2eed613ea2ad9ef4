/**
 * Eval scenarios: one YAML file per situation (a proposal, the market before it, the news and the
 * book), with the constraints a sound committee's verdict must meet. Every object is `.strict()`: an
 * unknown field, a missing expectation or a citation of an item the scenario does not give fails to
 * load, and the error names the file, the field path and its line.
 */
import { createHash } from 'node:crypto';
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
  IsoDate,
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
    /**
     * File name inside data/samples/prices, e.g. `DowJones30.csv`, or a bundled data set's file
     * relative to data/samples, e.g. `stocknet-2014/prices.csv` (long OHLCV: date,ticker,…).
     */
    file: z.string().regex(/^(?:[A-Za-z0-9_-]+\/)?[A-Za-z0-9_-][A-Za-z0-9._-]*\.csv$/, 'expected a file name like DowJones30.csv or stocknet-2014/prices.csv'),
    /** Column of a wide file (DowJones30.csv) to read; default: the proposal's ticker. Ignored for OHLCV files; of a long file, the ticker to read. */
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
    /**
     * An item published after the as-of time: it goes into the news store like the others, and the
     * point-in-time search must never return it nor the committee cite it.
     */
    lookAhead: z.boolean().default(false),
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

/** The multiplier at or below which a REDUCE reduces (a REDUCE at 1.0 is allowed by contract, and reduces nothing). */
export const DEFAULT_REDUCE_MAX_SIZE = 0.75;

/** The constraints on the verdict. At least one is required. */
export const Expectation = z
  .object({
    /** The decision must be one of these. A REDUCE counts only at a multiplier at most `reduceMaxSize`. */
    decisionIn: z.array(Decision).min(1).optional(),
    /** APPROVE is wrong here (REDUCE, REJECT, ABSTAIN are fine). */
    mustNotApprove: z.boolean().optional(),
    /** The size multiplier must be at most this. */
    maxSizeMultiplier: Unit.optional(),
    /** The size multiplier must be at least this (a trade worth taking, not cut to a token size). */
    minSizeMultiplier: Unit.optional(),
    /** A REDUCE in `decisionIn` must cut the size to at most this (default 0.75). */
    reduceMaxSize: Unit.optional(),
    /** Evidence ids (news items of the scenario) the verdict's reasons must cite. */
    mustCite: z.array(EvidenceId).min(1).optional(),
    /** Evidence ids no claim and no reason may cite (e.g. an item from after the as-of time). */
    mustNotCite: z.array(EvidenceId).min(1).optional(),
    /** Texts (case-insensitive) the verdict's reasons must contain, each. */
    reasonsContain: z.array(z.string().min(1).max(200)).min(1).optional(),
    /** Texts (case-insensitive) the verdict's reasons must not contain. */
    reasonsNotContain: z.array(z.string().min(1).max(200)).min(1).optional(),
    /** The one item the decision turns on; a good verdict cites it. */
    decisive: EvidenceId.optional(),
  })
  .strict()
  .refine((e) => Object.values(e).some((v) => v !== undefined), {
    message:
      'at least one expectation is required (decisionIn, mustNotApprove, maxSizeMultiplier, minSizeMultiplier, mustCite, mustNotCite, reasonsContain, reasonsNotContain or decisive)',
  });
export type Expectation = z.infer<typeof Expectation>;

/**
 * The answers of a committee that ignores the scenario: the floor every backend must beat. REDUCE
 * twice: at 1.0 (allowed by contract, reduces nothing) and at 0.5.
 */
export const CONSTANT_ANSWERS: ReadonlyArray<{ label: string; decision: z.infer<typeof Decision>; sizeMultiplier: number }> = Object.freeze([
  { label: 'always APPROVE 1.0', decision: 'APPROVE', sizeMultiplier: 1 },
  { label: 'always REDUCE 1.0', decision: 'REDUCE', sizeMultiplier: 1 },
  { label: 'always REDUCE 0.5', decision: 'REDUCE', sizeMultiplier: 0.5 },
  { label: 'always REJECT', decision: 'REJECT', sizeMultiplier: 0 },
  { label: 'always ABSTAIN', decision: 'ABSTAIN', sizeMultiplier: 0 },
]);

/** True when the decision and size meet the expectation's decision constraints (citations aside). */
export function meetsDecision(expect: Expectation, decision: z.infer<typeof Decision>, sizeMultiplier: number): boolean {
  if (expect.decisionIn && !expect.decisionIn.includes(decision)) return false;
  if (expect.decisionIn && decision === 'REDUCE' && sizeMultiplier > (expect.reduceMaxSize ?? DEFAULT_REDUCE_MAX_SIZE) + 1e-9) return false;
  if (expect.mustNotApprove && decision === 'APPROVE') return false;
  if (expect.maxSizeMultiplier !== undefined && sizeMultiplier > expect.maxSizeMultiplier + 1e-9) return false;
  if (expect.minSizeMultiplier !== undefined && sizeMultiplier < expect.minSizeMultiplier - 1e-9) return false;
  return true;
}

/**
 * What followed a scenario built from real bars: the close `horizonDays` trading days after the
 * as-of close, over the as-of close, less one (the raw move, not the trade's direction). Written by
 * scripts/scenario-outcomes.ts from the bundled file the scenario reads; never shown to the
 * committee and not part of the scenario's content hash. The eval's agent scorecards read it.
 */
export const ScenarioRealised = z
  .object({
    forwardReturn: Finite,
    horizonDays: z.number().int().positive(),
    /** Dates of the two closes (New York trading dates). */
    from: IsoDate,
    to: IsoDate,
  })
  .strict();
export type ScenarioRealised = z.infer<typeof ScenarioRealised>;

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
    realised: ScenarioRealised.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.realised) {
      if (s.realised.horizonDays !== s.proposal.horizonDays)
        ctx.addIssue({ code: 'custom', path: ['realised', 'horizonDays'], message: `must be the proposal's horizonDays (${s.proposal.horizonDays})` });
      if (s.realised.from > s.asOf.slice(0, 10) || s.realised.to <= s.asOf.slice(0, 10))
        ctx.addIssue({
          code: 'custom',
          path: ['realised', 'to'],
          message: `must end after the as-of date ${s.asOf.slice(0, 10)}, from a close on or before it`,
        });
    }
    const ids = new Set(s.news.map((n) => n.id));
    s.news.forEach((n, i) => {
      if (s.news.findIndex((m) => m.id === n.id) !== i) ctx.addIssue({ code: 'custom', path: ['news', i, 'id'], message: `duplicate news id ${n.id}` });
      const after = Date.parse(n.publishedAt) > Date.parse(s.asOf);
      if (after && !n.lookAhead) {
        ctx.addIssue({
          code: 'custom',
          path: ['news', i, 'publishedAt'],
          message: `published after the scenario's asOf ${s.asOf}: mark it lookAhead: true (it must never be retrieved) or date it before`,
        });
      }
      if (!after && n.lookAhead) {
        ctx.addIssue({
          code: 'custom',
          path: ['news', i, 'lookAhead'],
          message: `the item is published at or before asOf ${s.asOf}: it is not a look-ahead item`,
        });
      }
    });
    const lookAhead = new Set(s.news.filter((n) => n.lookAhead).map((n) => n.id));
    s.expect.mustCite?.forEach((id, i) => {
      if (lookAhead.has(id)) ctx.addIssue({ code: 'custom', path: ['expect', 'mustCite', i], message: `"${id}" is a look-ahead item: it can never be cited` });
      else if (!ids.has(id)) ctx.addIssue({ code: 'custom', path: ['expect', 'mustCite', i], message: `"${id}" is not one of the scenario's news ids` });
    });
    if (s.expect.decisive !== undefined && !ids.has(s.expect.decisive)) {
      ctx.addIssue({ code: 'custom', path: ['expect', 'decisive'], message: `"${s.expect.decisive}" is not one of the scenario's news ids` });
    }
    s.expect.mustNotCite?.forEach((id, i) => {
      if (!ids.has(id)) ctx.addIssue({ code: 'custom', path: ['expect', 'mustNotCite', i], message: `"${id}" is not one of the scenario's news ids` });
    });
    if (s.expect.minSizeMultiplier !== undefined && s.expect.maxSizeMultiplier !== undefined && s.expect.minSizeMultiplier > s.expect.maxSizeMultiplier) {
      ctx.addIssue({ code: 'custom', path: ['expect', 'minSizeMultiplier'], message: 'is above maxSizeMultiplier: no verdict can meet both' });
    }
    const e = s.expect;
    const onlyDecision = e.mustCite === undefined && e.decisive === undefined && e.reasonsContain === undefined;
    if (onlyDecision && CONSTANT_ANSWERS.every((c) => meetsDecision(e, c.decision, c.sizeMultiplier))) {
      ctx.addIssue({
        code: 'custom',
        path: ['expect'],
        message: `every constant answer (${CONSTANT_ANSWERS.map((c) => c.label).join(', ')}) meets this expectation: it cannot fail a committee that ignores the scenario`,
      });
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

/** A scenario's identity in a baseline: its id and the hash of its parsed content. */
export const ScenarioRef = z.object({ id: z.string(), hash: z.string().regex(/^[0-9a-f]{16}$/) }).strict();
export type ScenarioRef = z.infer<typeof ScenarioRef>;

/** JSON with sorted keys: the same scenario hashes the same whatever the YAML's key order or comments. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The id and content hash (sha256 of the canonical parsed scenario, 16 hex digits) of a scenario. */
export function scenarioRef(s: Scenario): ScenarioRef {
  // What followed is not what the committee is given: writing it does not change the scenario.
  const { realised: _realised, ...given } = s;
  return { id: s.id, hash: createHash('sha256').update(canonical(given)).digest('hex').slice(0, 16) };
}
