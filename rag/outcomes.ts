/**
 * Outcome memory (ADR 0035): a short, structured record of each judged proposal once what happened
 * is known (the horizon passed or the position closed): the situation (ticker, side, the proposer's
 * probability and leading features), the verdict, the move that followed, and for an LLM backend
 * the agent's one-line reflection. Records are embedded and searched point in time: a search as of
 * T returns only records whose outcome was known strictly before T (known_at < T), so nothing that
 * happened after a decision's as-of can reach it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { IsoDateTime, QuorumError, Ticker, parseOrThrow, type Proposal, type Verdict } from '../contracts/index.ts';
import { toVectorLiteral, type Db } from '../db/index.ts';
import type { Embedder } from './embeddings.ts';

/** Most records one search returns. */
export const MAX_OUTCOME_K = 10;
/** Leading attributions named in a situation. */
export const SITUATION_FEATURES = 3;

/** How a closed position ended: the backtest's exit reasons, and `other` (a live close no exit rule names). */
export const OutcomeExitReason = z.enum(['stop', 'target', 'time', 'reversal', 'end', 'other']);
export type OutcomeExitReason = z.infer<typeof OutcomeExitReason>;

/** A closed position: why it closed and the trading days it was held (entry fill to exit fill). */
export const OutcomeExit = z.object({ reason: OutcomeExitReason, daysHeld: z.number().int().min(0) }).strict();
export type OutcomeExit = z.infer<typeof OutcomeExit>;

/**
 * Length of a reflection at most, in UTF-16 units: the reflection call's grammar allows 200
 * characters, each at most two units (agents' REFLECTION_MAX_CHARS and UTF16_UNITS_PER_CHAR).
 */
export const MAX_REFLECTION_CHARS = 400;
const Reflection = z.string().min(1).max(MAX_REFLECTION_CHARS);

/** One outcome as it is stored. */
export const OutcomeRecord = z
  .object({
    proposalId: z.string().min(1),
    ticker: Ticker,
    side: z.enum(['buy', 'sell']),
    asOf: IsoDateTime,
    /** When the outcome became known: the close the horizon ended on, or the position's close. After asOf. */
    knownAt: IsoDateTime,
    decision: z.enum(['APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN']),
    sizeMultiplier: z.number().min(0).max(1),
    confidence: z.number().min(0).max(1),
    /**
     * The raw move that followed: ended by the horizon, close at knownAt / close at asOf - 1; ended by
     * a closed position, its exit price / its entry price - 1 (what the trade realised, before costs).
     */
    forwardReturn: z.number().finite(),
    horizonDays: z.number().int().positive(),
    endedBy: z.enum(['horizon', 'closed']),
    /** Set exactly when endedBy is `closed`. */
    exit: OutcomeExit.nullable().default(null),
    /** The situation the proposal was made in (situationText). */
    situation: z.string().min(1).max(600),
    /** An LLM backend's one-line reflection; null for the rules baseline, or when it could not be had. */
    reflection: Reflection.nullable(),
    /** Why an LLM backend's reflection is null (its answer failed the schema, a timeout); null otherwise. */
    reflectionError: z.string().min(1).max(1000).nullable().default(null),
  })
  .strict()
  .refine((r) => Date.parse(r.knownAt) > Date.parse(r.asOf), {
    path: ['knownAt'],
    message: 'must be after asOf (an outcome is known only after the decision)',
  })
  .refine((r) => (r.endedBy === 'closed') === (r.exit !== null), { path: ['exit'], message: 'must be set exactly when endedBy is closed' })
  .refine((r) => r.reflection === null || r.reflectionError === null, { path: ['reflectionError'], message: 'must be null when there is a reflection' });
export type OutcomeRecord = z.infer<typeof OutcomeRecord>;
export type OutcomeRecordInput = z.input<typeof OutcomeRecord>;

export const OutcomeSearchQuery = z
  .object({
    /** The situation to match (situationText of the proposal being judged). */
    query: z.string().trim().min(1).max(600),
    asOf: z.date(),
    /** Only this ticker's records; null or absent: all tickers. */
    ticker: Ticker.nullable().optional(),
    k: z.number().int().min(1).max(MAX_OUTCOME_K).default(3),
  })
  .strict();
export type OutcomeSearchQuery = z.input<typeof OutcomeSearchQuery>;

export const OutcomeHit = z
  .object({
    id: z.string(),
    proposalId: z.string(),
    ticker: Ticker,
    side: z.enum(['buy', 'sell']),
    asOf: IsoDateTime,
    knownAt: IsoDateTime,
    decision: z.enum(['APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN']),
    sizeMultiplier: z.number(),
    /** The move in the proposal's direction over its horizon (the trade's return before costs). */
    directionalReturn: z.number(),
    summary: z.string(),
    reflection: z.string().nullable(),
    /** Cosine similarity of the situations, -1..1. */
    similarity: z.number(),
  })
  .strict();
export type OutcomeHit = z.infer<typeof OutcomeHit>;

/** The id of a proposal's outcome record (one per proposal). */
export function outcomeId(proposalId: string): string {
  return `oc_${createHash('sha256').update(proposalId).digest('hex').slice(0, 20)}`;
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

/** What every outcome record of a judged proposal starts from: the proposal, its verdict and its situation. */
export function outcomeBase(proposal: Proposal, verdict: Pick<Verdict, 'decision' | 'sizeMultiplier' | 'confidence'>) {
  return {
    proposalId: proposal.id,
    ticker: proposal.ticker,
    side: proposal.side,
    asOf: proposal.asOf,
    decision: verdict.decision,
    sizeMultiplier: verdict.sizeMultiplier,
    confidence: verdict.confidence,
    horizonDays: proposal.horizonDays,
    situation: situationText(proposal),
    reflection: null,
  };
}

/** The situation of a proposal in words: what is embedded and matched. */
export function situationText(p: Pick<Proposal, 'ticker' | 'side' | 'probability' | 'attributions'>): string {
  const features = p.attributions
    .slice(0, SITUATION_FEATURES)
    .map((a) => `${a.feature} ${a.contribution >= 0 ? 'for' : 'against'}`)
    .join(', ');
  return `${p.ticker} ${p.side} proposal, probability ${p.probability.toFixed(2)}${features ? `; leading features: ${features}` : ''}`.slice(0, 600);
}

/** The move in the proposal's direction. */
export function directionalReturn(side: 'buy' | 'sell', forwardReturn: number): number {
  return side === 'buy' ? forwardReturn : -forwardReturn;
}

/** The one-paragraph summary an agent reads: situation, verdict, what happened. */
export function outcomeSummary(r: OutcomeRecord): string {
  const d = directionalReturn(r.side, r.forwardReturn);
  const verdict = r.decision === 'REDUCE' ? `REDUCE x${r.sizeMultiplier.toFixed(2)}` : r.decision;
  const taken = r.decision === 'APPROVE' || r.decision === 'REDUCE';
  const judged = taken ? (d > 0 ? 'the trade paid' : 'the trade lost') : d > 0 ? 'the veto missed a winner' : 'the veto avoided a loser';
  const ended =
    r.exit === null
      ? `over ${r.horizonDays} trading days (horizon passed ${r.knownAt.slice(0, 10)}) the price moved ${pct(r.forwardReturn)}`
      : `the position closed ${r.knownAt.slice(0, 10)} by ${EXIT_WORDS[r.exit.reason]} after ${r.exit.daysHeld} of ${r.horizonDays} trading days, realising ${pct(r.forwardReturn)}`;
  return `${r.situation}. As of ${r.asOf.slice(0, 10)} the committee said ${verdict} (confidence ${r.confidence.toFixed(2)}); ${ended}, ${pct(d)} in the proposal's direction: ${judged}.`;
}

const EXIT_WORDS: Record<OutcomeExitReason, string> = {
  stop: 'its stop',
  target: 'its target',
  time: 'the time exit',
  reversal: 'a reversal exit',
  end: 'the end of the data',
  other: 'an exit',
};

/** Stores `record` (embedded with `embedder`); a proposal's outcome is stored once (a second store is a no-op). Returns its id. */
export async function storeOutcome(db: Db, embedder: Embedder, input: OutcomeRecordInput): Promise<string> {
  const r = parseOrThrow(OutcomeRecord, input, 'outcome record');
  const id = outcomeId(r.proposalId);
  const summary = outcomeSummary(r);
  const [vector] = await embedder.embed([r.situation]);
  if (!vector) throw new QuorumError('INTERNAL', 'the embedder returned no vector for the outcome');
  await db.query(
    `INSERT INTO outcomes (id, proposal_id, ticker, side, as_of, known_at, decision, size_multiplier, confidence, forward_return, directional_return,
                           horizon_days, ended_by, summary, reflection, embedding_model, embedding, exit_reason, days_held, reflection_error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::vector, $18, $19, $20) ON CONFLICT (id) DO NOTHING`,
    [
      id,
      r.proposalId,
      r.ticker,
      r.side,
      r.asOf,
      r.knownAt,
      r.decision,
      r.sizeMultiplier,
      r.confidence,
      r.forwardReturn,
      directionalReturn(r.side, r.forwardReturn),
      r.horizonDays,
      r.endedBy,
      summary,
      r.reflection,
      embedder.model,
      toVectorLiteral(vector),
      r.exit?.reason ?? null,
      r.exit?.daysHeld ?? null,
      r.reflectionError,
    ],
  );
  return id;
}

/** An LLM backend's reflection on an outcome in words: the reflection, or null with the reason. */
export type OutcomeReflector = (outcome: string) => Promise<{ reflection: string | null; error: string | null }>;

/**
 * Stores the outcome `input`, first asking `reflect` (an LLM backend's) for its reflection on the
 * outcome's summary. A reflection that does not fit the record (empty, too long) is stored as null
 * with the reason, as is one the backend could not give: the record is always stored whole, in one
 * insert. Without `reflect` (the rules baseline) the reflection is null. Returns the record's id.
 */
export async function recordOutcome(db: Db, embedder: Embedder, input: OutcomeRecordInput, reflect?: OutcomeReflector): Promise<string> {
  const r = parseOrThrow(OutcomeRecord, input, 'outcome record');
  if (!reflect) return storeOutcome(db, embedder, r);
  const got = await reflect(outcomeSummary(r));
  const fits = got.reflection === null ? null : Reflection.safeParse(got.reflection);
  const reflection = fits?.success ? fits.data : null;
  const error =
    reflection !== null
      ? null
      : fits && !fits.success
        ? `LLM_OUTPUT_INVALID: the reflection does not fit the record (not empty, at most ${MAX_REFLECTION_CHARS} UTF-16 units)`
        : (got.error ?? 'no reflection was given');
  return storeOutcome(db, embedder, { ...r, reflection, reflectionError: reflection === null ? error : null });
}

const Row = z.object({
  id: z.string(),
  proposal_id: z.string(),
  ticker: z.string(),
  side: z.enum(['buy', 'sell']),
  as_of: z.coerce.date(),
  known_at: z.coerce.date(),
  decision: z.enum(['APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN']),
  size_multiplier: z.coerce.number(),
  directional_return: z.coerce.number(),
  summary: z.string(),
  reflection: z.string().nullable(),
  distance: z.coerce.number(),
});

/**
 * The `k` stored outcomes most similar to `query`, known strictly before `asOf` (and of `ticker`
 * when given), most similar first (ties: the more recently known, then id). An exact scan.
 */
export async function searchOutcomes(db: Db, embedder: Embedder, input: OutcomeSearchQuery): Promise<OutcomeHit[]> {
  const q = parseOrThrow(OutcomeSearchQuery, input, 'outcome search');
  const [vector] = await embedder.embed([q.query]);
  if (!vector) throw new QuorumError('INTERNAL', 'the embedder returned no vector for the query');
  const params: unknown[] = [toVectorLiteral(vector), q.asOf.toISOString(), embedder.model, q.k];
  const byTicker = q.ticker ? ' AND ticker = $5' : '';
  if (q.ticker) params.push(q.ticker);
  const res = await db.query(
    `SELECT id, proposal_id, ticker, side, as_of, known_at, decision, size_multiplier, directional_return, summary, reflection,
            embedding <=> $1::vector AS distance
       FROM outcomes
      WHERE embedding_model = $3 AND known_at < $2::timestamptz${byTicker}
      ORDER BY embedding <=> $1::vector, known_at DESC, id
      LIMIT $4`,
    params,
  );
  return res.rows.map((raw) => {
    const r = Row.parse(raw);
    return OutcomeHit.parse({
      id: r.id,
      proposalId: r.proposal_id,
      ticker: r.ticker,
      side: r.side,
      asOf: r.as_of.toISOString(),
      knownAt: r.known_at.toISOString(),
      decision: r.decision,
      sizeMultiplier: r.size_multiplier,
      directionalReturn: r.directional_return,
      summary: r.summary,
      reflection: r.reflection,
      similarity: 1 - r.distance,
    });
  });
}
