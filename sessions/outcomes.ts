/**
 * Outcome memory in live sessions (ADR 0035): before a session judges, the outcomes of earlier
 * judged proposals that are known by its as-of are recorded. A proposal's outcome is what its
 * position did when the position it opened has closed (a stop or target leg, the exit monitor's
 * time or reversal exit: rebuilt from the stored fills, known from the closing fill's time), or
 * else the move over its horizon once the horizon's last daily bar is in (known at that bar's
 * time), whichever came first. With an LLM backend the committee reflects on each, once.
 */
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import { Proposal, Verdict } from '../contracts/index.ts';
import { queryRows, TimestampColumn, type Db } from '../db/index.ts';
import { reflectOnOutcome } from '../agents/index.ts';
import { loadProposalFills, roundTripsFrom, type RoundTrip } from '../execution/index.ts';
import type { CommitteeBackend } from '../graph/index.ts';
import { outcomeBase, recordOutcome, type Embedder, type OutcomeRecordInput, type OutcomeReflector } from '../rag/index.ts';

/** The committee backend's reflection on an outcome: an LLM's, asked once; none for the rules baseline (ADR 0035). */
export function outcomeReflector(backend: CommitteeBackend, config: Config): OutcomeReflector | undefined {
  if (backend === 'rules') return undefined;
  return async (outcome) => {
    const r = await reflectOnOutcome({ backend, outcome, timeoutMs: config.models.llm.timeoutMs });
    return { reflection: r.reflection, error: r.error };
  };
}

const PendingRow = z.object({ payload: z.unknown(), verdict: z.unknown() });
const BarRow = z.object({ ts: TimestampColumn, close: z.number() });

export interface RecordedOutcomes {
  /** Outcomes recorded now: by a closed position, by the horizon. */
  closed: number;
  horizon: number;
  /** Judged proposals whose outcome is not known yet at the as-of. */
  pending: number;
}

/** Daily closes of `ticker` in (from, to], the first `limit`. */
async function closesAfter(db: Db, ticker: string, from: string, to: string, limit: number): Promise<Array<{ ts: string; close: number }>> {
  return queryRows(db, BarRow, `SELECT ts, close FROM bars WHERE ticker = $1 AND timeframe = '1Day' AND ts > $2 AND ts <= $3 ORDER BY ts LIMIT $4`, [
    ticker,
    from,
    to,
    limit,
  ]);
}

/**
 * Records the outcome of every judged proposal made before `asOf` that has none yet and whose
 * outcome is known at `asOf` (see the file's comment). Each is stored whole, once (rag's recordOutcome).
 */
export async function recordKnownOutcomes(db: Db, options: { embedder: Embedder; asOf: string; reflect?: OutcomeReflector }): Promise<RecordedOutcomes> {
  const rows = await queryRows(
    db,
    PendingRow,
    `SELECT p.payload, (SELECT v.payload FROM verdicts v WHERE v.proposal_id = p.id ORDER BY v.created_at LIMIT 1) AS verdict
       FROM proposals p
      WHERE p.as_of < $1::timestamptz
        AND EXISTS (SELECT 1 FROM verdicts v WHERE v.proposal_id = p.id)
        AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.proposal_id = p.id)
      ORDER BY p.as_of, p.id`,
    [options.asOf],
  );
  const out: RecordedOutcomes = { closed: 0, horizon: 0, pending: 0 };
  if (rows.length === 0) return out;
  const trips = new Map<string, RoundTrip>();
  for (const t of roundTripsFrom(await loadProposalFills(db, options.asOf))) if (t.proposalId && !trips.has(t.proposalId)) trips.set(t.proposalId, t);
  for (const row of rows) {
    const proposal = Proposal.parse(row.payload);
    const verdict = Verdict.parse(row.verdict);
    const base = outcomeBase(proposal, verdict);
    const horizon = await closesAfter(db, proposal.ticker, proposal.asOf, options.asOf, proposal.horizonDays);
    const horizonEnd = horizon.length === proposal.horizonDays ? horizon[horizon.length - 1] : undefined;
    const trip = trips.get(proposal.id);
    let record: OutcomeRecordInput | null = null;
    if (trip && (!horizonEnd || Date.parse(trip.closedAt) <= Date.parse(horizonEnd.ts))) {
      const held = await closesAfter(db, proposal.ticker, trip.openedAt, trip.closedAt, 10_000);
      record = {
        ...base,
        knownAt: trip.closedAt,
        forwardReturn: trip.exitPrice / trip.entryPrice - 1,
        endedBy: 'closed',
        exit: { reason: trip.exit, daysHeld: held.length },
      };
    } else if (horizonEnd) {
      const [start] = await queryRows(db, BarRow, `SELECT ts, close FROM bars WHERE ticker = $1 AND timeframe = '1Day' AND ts <= $2 ORDER BY ts DESC LIMIT 1`, [
        proposal.ticker,
        proposal.asOf,
      ]);
      if (start && start.close > 0) record = { ...base, knownAt: horizonEnd.ts, forwardReturn: horizonEnd.close / start.close - 1, endedBy: 'horizon' };
    }
    if (!record) {
      out.pending++;
      continue;
    }
    await recordOutcome(db, options.embedder, record, options.reflect);
    if (record.endedBy === 'closed') out.closed++;
    else out.horizon++;
  }
  return out;
}
