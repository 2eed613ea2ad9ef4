import { z } from 'zod';
import { Ticker } from '../contracts/index.ts';
import { barsAsOf } from '../market/index.ts';
import { defineTool } from './registry.ts';

/** Most bars one call may return (bounds prompt tokens). */
export const MAX_TOOL_BARS = 60;
export const DEFAULT_TOOL_BARS = 20;

export const BarsInput = z
  .object({
    ticker: Ticker.optional(),
    limit: z.number().int().min(1).max(MAX_TOOL_BARS).default(DEFAULT_TOOL_BARS),
  })
  .strict();

/** Daily bars of a ticker up to the proposal's as-of (never later), most recent `limit`. */
export const barsTool = defineTool({
  name: 'bars',
  // Arguments are told by the input's JSON schema: the description only says what is not in it.
  description: "Daily bars (t, o, h, l, c, v) up to the as-of time, oldest first; ticker defaults to the proposal's.",
  input: BarsInput,
  async run(ctx, input) {
    const ticker = input.ticker ?? ctx.proposal.ticker;
    const bars = await barsAsOf(ctx.db, { ticker, asOf: ctx.asOf, limit: input.limit });
    return {
      ticker,
      asOf: ctx.asOf,
      count: bars.length,
      bars: bars.map((b) => ({ t: b.ts.slice(0, 10), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume })),
    };
  },
});
