import { z } from 'zod';
import { Finite, IsoDateTime, Side, Ticker, Unit } from './common.ts';

/** One feature's contribution to a proposal's probability (e.g. occlusion against a baseline). */
export const Attribution = z
  .object({
    feature: z.string().min(1),
    value: Finite,
    contribution: Finite,
  })
  .strict();
export type Attribution = z.infer<typeof Attribution>;

/** What the ML model proposes; the committee may only shrink or veto it. */
export const Proposal = z
  .object({
    id: z.string().min(1),
    ticker: Ticker,
    side: Side,
    /** The classifier's probability that the forward return clears the threshold. */
    probability: Unit,
    /** Expected return over the horizon, as a fraction (0.01 = 1%). */
    expectedReturn: Finite,
    horizonDays: z.number().int().positive(),
    modelId: z.string().min(1),
    modelVersion: z.string().min(1),
    featureSnapshotId: z.string().min(1),
    attributions: z.array(Attribution).max(64),
    asOf: IsoDateTime,
  })
  .strict();
export type Proposal = z.infer<typeof Proposal>;
