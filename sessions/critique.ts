import { z } from 'zod';
import { IsoDate, IsoDateTime, Proposal, QuorumError, Side, Ticker, Unit, Verdict } from '../contracts/index.ts';
import { CommitteeStats, runCommittee, type CommitteeEvent } from '../graph/index.ts';
import { publishLive } from './live.ts';
import { dailyBarTs } from '../market/index.ts';
import { proposeIdea, proposeOne, storeOutsideProposal } from '../ml/index.ts';
import type { SessionEnv } from './run.ts';

/**
 * One critique outside a session (POST /v1/critiques): a whole proposal (e.g. from the caller's own
 * model), or the model's proposal for a ticker at a time, judged by the committee of a SessionEnv.
 */
export const CritiqueRequest = z
  .object({
    proposal: Proposal.optional(),
    ticker: Ticker.optional(),
    asOf: z.union([IsoDate, IsoDateTime]).optional(),
    /** With {ticker, asOf}: judge the caller's own idea on this side (with the model's features) instead of the model's proposal. */
    side: Side.optional(),
    /** With side: the idea's probability; default the model's own. */
    probability: Unit.optional(),
  })
  .strict()
  // One object rather than a union, so a bad field is named (`body.proposal.probability`), not "invalid input".
  .superRefine((b, ctx) => {
    if (b.proposal && (b.ticker || b.asOf || b.side))
      ctx.addIssue({ code: 'custom', path: ['proposal'], message: 'give either a proposal or {ticker, asOf[, side]}, not both' });
    if (b.probability !== undefined && !b.side)
      ctx.addIssue({ code: 'custom', path: ['probability'], message: 'needs side (it is the probability of your own idea)' });
    if (!b.proposal) {
      if (!b.ticker) ctx.addIssue({ code: 'custom', path: ['ticker'], message: 'required (or give a whole proposal)' });
      if (!b.asOf) ctx.addIssue({ code: 'custom', path: ['asOf'], message: 'required (or give a whole proposal)' });
    }
  });
export type CritiqueRequest = z.infer<typeof CritiqueRequest>;

/** What a finished critique answers. */
export const CritiqueReply = z.object({
  critiqueId: z.string(),
  backend: z.string(),
  /** Which backend judged and why (e.g. the rules baseline because no LLM is reachable). */
  notice: z.string(),
  verdict: Verdict,
  stats: CommitteeStats,
});
export type CritiqueReply = z.infer<typeof CritiqueReply>;

/** The request field an INPUT_INVALID from proposing names: `ticker` when it has no bars, else `asOf`. */
export const CritiqueField = z.enum(['ticker', 'asOf']);

/**
 * The proposal a critique request names: stored as given, or proposed now by the model. An `asOf` that
 * is no trading day or lies outside the ticker's stored bars is an INPUT_INVALID whose `details.field`
 * is `asOf` (or `ticker` when the ticker has no bars at all), with the usable range in the message.
 */
export async function proposalForCritique(env: SessionEnv, req: CritiqueRequest): Promise<Proposal> {
  const external = req.proposal;
  if (external) {
    await env.db.transaction((tx) => storeOutsideProposal(tx, external, { featureSet: 'external', version: 'external', payload: { source: 'api' } }));
    return external;
  }
  const ticker = req.ticker ?? '';
  const given = req.asOf ?? '';
  const asOf = /^\d{4}-\d{2}-\d{2}$/.test(given) ? dailyBarTs(given) : given;
  try {
    if (req.side)
      return await proposeIdea(env.db, {
        asOf,
        ticker,
        idea: { side: req.side, probability: req.probability },
        proposer: env.proposer,
        settings: env.config.settings,
      });
    return await proposeOne(env.db, { asOf, ticker, proposer: env.proposer, settings: env.config.settings });
  } catch (error) {
    if (QuorumError.is(error, 'INPUT_INVALID')) {
      const field: z.infer<typeof CritiqueField> = error.details.field === 'ticker' ? 'ticker' : 'asOf';
      throw new QuorumError('INPUT_INVALID', error.message, { field }, { cause: error });
    }
    if (QuorumError.is(error, 'NOT_FOUND') && !req.side) {
      throw new QuorumError('NOT_FOUND', `${error.message}; send side (buy or sell) to have the committee judge your own idea`, error.details, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Runs the committee on one proposal with the env's backend, news search and checkpointer. */
export async function runCritique(env: SessionEnv, proposal: Proposal, onEvent?: (e: CommitteeEvent) => void): Promise<CritiqueReply> {
  const res = await runCommittee({
    db: env.db,
    config: env.config,
    proposal,
    backend: env.backend.backend,
    searchNews: env.searchNews,
    checkpointer: env.checkpointer,
    onEvent: (event) => {
      publishLive({ source: 'critique', sessionId: null, proposalId: proposal.id, ticker: proposal.ticker, event });
      onEvent?.(event);
    },
  });
  return { critiqueId: res.runId, backend: env.backend.name, notice: env.backend.notice, verdict: res.verdict, stats: res.stats };
}
