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
    /**
     * How the attributions were computed: `treeshap` (exact path-dependent TreeSHAP of a tree model,
     * contributions in log-odds, summing with `attributionBase` to the model's margin) or `occlusion`
     * (probability change when a feature is set to its training median). Absent on older proposals: occlusion.
     */
    attributionMethod: z.enum(['treeshap', 'occlusion']).optional(),
    /** TreeSHAP's expected margin E[f] (log-odds) the contributions start from. */
    attributionBase: Finite.optional(),
    asOf: IsoDateTime,
  })
  .strict();
export type Proposal = z.infer<typeof Proposal>;
