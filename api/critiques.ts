import { z } from 'zod';
import { IsoDate, IsoDateTime, Proposal, QuorumError, Ticker } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { dailyBarTs } from '../market/index.ts';
import { proposeOne, storeOutsideProposal } from '../ml/index.ts';
import type { SessionEnv } from '../sessions/index.ts';
import { badRequest } from './errors.ts';

/** The body of POST /v1/critiques: a whole proposal (e.g. from the caller's own model), or a ticker at a time. */
export const CritiqueRequest = z
  .object({
    proposal: Proposal.optional(),
    ticker: Ticker.optional(),
    asOf: z.union([IsoDate, IsoDateTime]).optional(),
  })
  .strict()
  // One object rather than a union, so a bad field is named (`body.proposal.probability`), not "invalid input".
  .superRefine((b, ctx) => {
    if (b.proposal && (b.ticker || b.asOf)) ctx.addIssue({ code: 'custom', path: ['proposal'], message: 'give either a proposal or {ticker, asOf}, not both' });
    if (!b.proposal) {
      if (!b.ticker) ctx.addIssue({ code: 'custom', path: ['ticker'], message: 'required (or give a whole proposal)' });
      if (!b.asOf) ctx.addIssue({ code: 'custom', path: ['asOf'], message: 'required (or give a whole proposal)' });
    }
  });
export type CritiqueRequest = z.infer<typeof CritiqueRequest>;

/**
 * The proposal a critique request names: stored as given, or proposed now by the model. An `asOf` that
 * is no trading day or lies outside the ticker's stored bars is a 400 naming `body.asOf` (or
 * `body.ticker` when the ticker has no bars at all), with the usable range in the message.
 */
export async function proposalForRequest(env: SessionEnv, req: CritiqueRequest): Promise<Proposal> {
  const external = req.proposal;
  if (external) {
    await env.db.transaction((tx) => storeOutsideProposal(tx, external, { featureSet: 'external', version: 'external', payload: { source: 'api' } }));
    return external;
  }
  const ticker = req.ticker ?? '';
  const given = req.asOf ?? '';
  const asOf = /^\d{4}-\d{2}-\d{2}$/.test(given) ? dailyBarTs(given) : given;
  try {
    return await proposeOne(env.db, { asOf, ticker, proposer: env.proposer, settings: env.config.settings });
  } catch (error) {
    if (QuorumError.is(error, 'INPUT_INVALID')) {
      const field = error.details.field === 'ticker' ? 'ticker' : 'asOf';
      throw badRequest('body', [{ path: field, message: error.message }]);
    }
    throw error;
  }
}

const RunRow = z.object({ id: z.string(), proposal_id: z.string(), status: z.string(), backend: z.string(), stats: z.unknown(), started_at: z.coerce.date(), finished_at: z.coerce.date().nullable() });

/** A critique (one committee run): its status, verdict and transcript. */
export async function getCritique(db: Db, id: string): Promise<Record<string, unknown> | null> {
  const run = await db.query('SELECT id, proposal_id, status, backend, stats, started_at, finished_at FROM committee_runs WHERE id = $1', [id]);
  if (!run.rows[0]) return null;
  const r = RunRow.parse(run.rows[0]);
  const [verdict, proposal, messages, toolCalls] = await Promise.all([
    db.query('SELECT payload FROM verdicts WHERE run_id = $1', [id]),
    db.query('SELECT payload FROM proposals WHERE id = $1', [r.proposal_id]),
    db.query(
      `SELECT node, agent, round, message_role, content, prompt_version, tokens_prompt, tokens_completion, latency_ms FROM agent_messages WHERE run_id = $1 ORDER BY id`,
      [id],
    ),
    db.query('SELECT id, agent, tool, args, ok, error_code, result_digest, result_chars, latency_ms FROM tool_calls WHERE run_id = $1 ORDER BY created_at', [id]),
  ]);
  return {
    id: r.id,
    status: r.status,
    backend: r.backend,
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
    stats: r.stats,
    proposal: proposal.rows[0]?.payload ?? null,
    verdict: verdict.rows[0]?.payload ?? null,
    messages: messages.rows,
    toolCalls: toolCalls.rows,
  };
}
