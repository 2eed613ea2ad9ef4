import { z } from 'zod';
import { Ticker } from '../contracts/index.ts';
import { barsAsOf, type Bar } from '../market/index.ts';
import type { Db } from '../db/index.ts';
import { defineTool, type BarsReader, type ToolContext } from './registry.ts';

/** Most bars one call may return (bounds prompt tokens). */
export const MAX_TOOL_BARS = 60;
export const DEFAULT_TOOL_BARS = 20;

export const BarsInput = z
  .object({
    ticker: Ticker.optional(),
    limit: z.number().int().min(1).max(MAX_TOOL_BARS).default(DEFAULT_TOOL_BARS),
  })
  .strict();

/**
 * A bars reader for one run (one as-of time): the first read of a ticker fetches at least
 * `atLeast` bars (the graph passes the indicators' lookback, so bars and indicators share one
 * read), later reads of up to as many are sliced from it. The most recent `limit` bars up to
 * asOf are the last `limit` of any longer such list, so results are those of barsAsOf.
 */
export function cachedBarsReader(db: Db, asOf: string, atLeast: number): BarsReader {
  const read = new Map<string, { limit: number; bars: Promise<Bar[]> }>();
  return async (ticker, limit) => {
    let entry = read.get(ticker);
    if (!entry || entry.limit < limit) {
      const n = Math.max(limit, atLeast);
      entry = { limit: n, bars: barsAsOf(db, { ticker, asOf, limit: n }) };
      read.set(ticker, entry);
      // A failed read is not kept: the next call reads again.
      const failed = entry;
      entry.bars.catch(() => {
        if (read.get(ticker) === failed) read.delete(ticker);
      });
    }
    return (await entry.bars).slice(-limit);
  };
}

/** Bars for a tool call: the run's reader when there is one, else the database. */
export function readBars(ctx: ToolContext, ticker: string, limit: number): Promise<Bar[]> {
  return ctx.readBars ? ctx.readBars(ticker, limit) : barsAsOf(ctx.db, { ticker, asOf: ctx.asOf, limit });
}

/** Daily bars of a ticker up to the proposal's as-of (never later), most recent `limit`. */
export const barsTool = defineTool({
  name: 'bars',
  // Arguments are told by the input's JSON schema: the description only says what is not in it.
  description: "Daily bars (t, o, h, l, c, v) up to the as-of time, oldest first; ticker defaults to the proposal's.",
  input: BarsInput,
  async run(ctx, input) {
    const ticker = input.ticker ?? ctx.proposal.ticker;
    const bars = await readBars(ctx, ticker, input.limit);
    return {
      ticker,
      asOf: ctx.asOf,
      count: bars.length,
      bars: bars.map((b) => ({ t: b.ts.slice(0, 10), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume })),
    };
  },
});
