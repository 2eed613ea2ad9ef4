/**
 * What the committee's tools return. Every tool has a zod output schema; a call's outcome is a
 * discriminated union (by `ok`, then by `tool`) so the graph state, the rules critic and the
 * transcript all read one typed shape. Tool errors are values, never exceptions.
 */
import { z } from 'zod';
import { ERROR_CODES, EvidenceId, IsoDateTime, Side, Ticker } from '../contracts/index.ts';

/** Names of the tools the registry knows. */
export const ToolName = z.enum(['bars', 'indicators', 'news_search', 'explain_proposal', 'portfolio', 'past_outcomes']);
export type ToolName = z.infer<typeof ToolName>;

/** One bar as a tool returns it (compact keys keep prompts short). */
export const ToolBar = z
  .object({
    t: z.string(),
    o: z.number().nullable(),
    h: z.number().nullable(),
    l: z.number().nullable(),
    c: z.number(),
    v: z.number().nullable(),
  })
  .strict();

export const BarsOutput = z
  .object({
    ticker: Ticker,
    asOf: IsoDateTime,
    count: z.number().int().min(0),
    bars: z.array(ToolBar),
  })
  .strict();
export type BarsOutput = z.infer<typeof BarsOutput>;

/** Indicator values at `asOf`, from bars up to `asOf` only; null when there are too few bars. */
export const IndicatorsOutput = z
  .object({
    ticker: Ticker,
    asOf: IsoDateTime,
    barsUsed: z.number().int().min(0),
    lastClose: z.number().nullable(),
    lastBarAt: z.string().nullable(),
    /** EMA(12) / EMA(26) - 1: the trend's sign and strength. */
    emaRatio: z.number().nullable(),
    /** MACD(12, 26, 9) histogram, divided by the last close (scale-free). */
    macdHistPct: z.number().nullable(),
    rsi14: z.number().nullable(),
    /** Average true range over 14 bars as a fraction of the close. */
    atrPct: z.number().nullable(),
    /** `true-range` with high/low, `close-to-close` for close-only data (labelled so). */
    atrMethod: z.enum(['true-range', 'close-to-close']).nullable(),
    /** Annualised standard deviation of 20 daily log returns. */
    realizedVol20: z.number().nullable(),
    /** Return over the last 20 bars, as a fraction. */
    return20: z.number().nullable(),
    /** Mean close x volume over 20 bars; null when volume is unknown. */
    avgDollarVolume20: z.number().nullable(),
  })
  .strict();
export type IndicatorsOutput = z.infer<typeof IndicatorsOutput>;

export const NewsHit = z
  .object({
    /** The evidence id agents cite: `news:<rag id>`. */
    evidenceId: EvidenceId,
    newsId: z.string(),
    title: z.string(),
    snippet: z.string(),
    publishedAt: z.string(),
    source: z.string(),
    /** Confidence that the item is about the searched ticker (0 without a ticker filter). */
    tickerMatch: z.number().min(0).max(1),
    tickers: z.array(z.string()),
    /** Stored or computed lexicon sentiment in [-1, 1]. */
    sentiment: z.number().nullable(),
    score: z.number(),
  })
  .strict();
export type NewsHit = z.infer<typeof NewsHit>;

export const NewsSearchOutput = z
  .object({
    query: z.string(),
    asOf: IsoDateTime,
    ticker: Ticker.nullable(),
    hits: z.array(NewsHit),
  })
  .strict();
export type NewsSearchOutput = z.infer<typeof NewsSearchOutput>;

export const ExplainOutput = z
  .object({
    proposalId: z.string(),
    ticker: Ticker,
    side: Side,
    probability: z.number(),
    expectedReturn: z.number(),
    horizonDays: z.number().int(),
    model: z.string(),
    attributions: z.array(z.object({ feature: z.string(), value: z.number(), contribution: z.number() }).strict()),
    /** `treeshap`: contributions in log-odds from `base`; `occlusion`: in probability. */
    method: z.enum(['treeshap', 'occlusion']),
    base: z.number().nullable(),
  })
  .strict();
export type ExplainOutput = z.infer<typeof ExplainOutput>;

export const PortfolioOutput = z
  .object({
    asOf: IsoDateTime,
    /** Last stored equity at or before asOf; null when no equity history exists. */
    equity: z.number().nullable(),
    cash: z.number().nullable(),
    tradingState: z.string(),
    positions: z.array(
      z
        .object({
          ticker: z.string(),
          qty: z.number(),
          avgPrice: z.number(),
          lastPrice: z.number().nullable(),
          /** Position notional as % of equity (null without equity or price). */
          pctOfEquity: z.number().nullable(),
          sector: z.string().nullable(),
        })
        .strict(),
    ),
    /** The hard limits of risk_rules.yaml, read-only: the agent sees them, never changes them. */
    limits: z
      .object({
        maxPositions: z.number(),
        maxPositionPct: z.number(),
        maxSectorPct: z.number(),
        maxGrossExposurePct: z.number(),
        riskPerTradePct: z.number(),
        allowShort: z.boolean(),
      })
      .strict(),
    openPositions: z.number().int().min(0),
    proposalSector: z.string().nullable(),
    /** Notional % of equity already in the proposal's sector. */
    sectorPct: z.number().nullable(),
  })
  .strict();
export type PortfolioOutput = z.infer<typeof PortfolioOutput>;

/** A past outcome as the past_outcomes tool returns it (rag/outcomes.ts OutcomeHit, cited as `outcome:<id>`). */
export const OutcomeEvidence = z
  .object({
    evidenceId: EvidenceId,
    outcomeId: z.string(),
    ticker: Ticker,
    side: Side,
    asOf: IsoDateTime,
    /** When the outcome became known: always before the run's as-of. */
    knownAt: IsoDateTime,
    decision: z.enum(['APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN']),
    directionalReturn: z.number(),
    summary: z.string(),
    reflection: z.string().nullable(),
    similarity: z.number(),
  })
  .strict();
export type OutcomeEvidence = z.infer<typeof OutcomeEvidence>;

export const PastOutcomesOutput = z.object({ asOf: IsoDateTime, ticker: Ticker.nullable(), hits: z.array(OutcomeEvidence) }).strict();
export type PastOutcomesOutput = z.infer<typeof PastOutcomesOutput>;

const okBase = {
  ok: z.literal(true),
  /** tool_calls.id */
  callId: z.string(),
  /** `tool:<callId>`: what an agent cites for this result. */
  evidenceId: EvidenceId,
  agent: z.string(),
  /** The bounded text given to the agent (JSON of `data`, cut at maxToolResultChars). */
  text: z.string(),
  truncated: z.boolean(),
  latencyMs: z.number().min(0),
};

/** A successful call, typed by tool. */
export const ToolSuccess = z.discriminatedUnion('tool', [
  z.object({ ...okBase, tool: z.literal('bars'), data: BarsOutput }).strict(),
  z.object({ ...okBase, tool: z.literal('indicators'), data: IndicatorsOutput }).strict(),
  z.object({ ...okBase, tool: z.literal('news_search'), data: NewsSearchOutput }).strict(),
  z.object({ ...okBase, tool: z.literal('explain_proposal'), data: ExplainOutput }).strict(),
  z.object({ ...okBase, tool: z.literal('portfolio'), data: PortfolioOutput }).strict(),
  z.object({ ...okBase, tool: z.literal('past_outcomes'), data: PastOutcomesOutput }).strict(),
]);
export type ToolSuccess = z.infer<typeof ToolSuccess>;

/** A failed call: unknown tool, bad arguments, or a failure inside the tool. Given to the agent as data. */
export const ToolFailure = z
  .object({
    ok: z.literal(false),
    callId: z.string(),
    evidenceId: EvidenceId,
    agent: z.string(),
    /** The requested name (may be unknown). */
    tool: z.string(),
    error: z
      .object({
        code: z.enum(ERROR_CODES),
        message: z.string(),
        /** The bad argument, for TOOL_INPUT_INVALID. */
        field: z.string().nullable(),
      })
      .strict(),
    text: z.string(),
    latencyMs: z.number().min(0),
  })
  .strict();
export type ToolFailure = z.infer<typeof ToolFailure>;

/** The outcome of one tool call. */
export const ToolOutcome = z.union([ToolSuccess, ToolFailure]);
export type ToolOutcome = z.infer<typeof ToolOutcome>;

/** The data type of a tool's successful result. */
export type ToolData<N extends ToolName> = Extract<ToolSuccess, { tool: N }>['data'];
