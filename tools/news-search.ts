import { z } from 'zod';
import { QuorumError, Ticker } from '../contracts/index.ts';
import { sentimentOf } from '../rag/sentiment.ts';
import { defineTool } from './registry.ts';
import type { NewsHit } from './schema.ts';

export const MAX_NEWS_K = 10;
export const DEFAULT_NEWS_K = 5;
/** Characters of each item's text given to an agent. */
export const NEWS_SNIPPET_CHARS = 400;

export const NewsSearchInput = z
  .object({
    query: z.string().trim().min(1).max(300),
    /** Default: the proposal's ticker. null searches all news. */
    ticker: Ticker.nullable().optional(),
    k: z.number().int().min(1).max(MAX_NEWS_K).default(DEFAULT_NEWS_K),
  })
  .strict();

/** The evidence id of a stored news item (rag's id, prefixed once). */
export function newsEvidenceId(newsId: string): string {
  return newsId.startsWith('news:') ? newsId : `news:${newsId}`;
}

/** Point-in-time news search: only items published at or before the as-of time. */
export const newsSearchTool = defineTool({
  name: 'news_search',
  description: "Search news published up to the as-of time; ticker defaults to the proposal's, null searches all news.",
  input: NewsSearchInput,
  async run(ctx, input) {
    if (!ctx.searchNews) throw new QuorumError('NOT_FOUND', 'news search is not available in this run (no embedder)');
    const ticker = input.ticker === undefined ? ctx.proposal.ticker : input.ticker;
    const results = await ctx.searchNews({ query: input.query, asOf: new Date(ctx.asOf), ticker, k: input.k });
    const asOfMs = Date.parse(ctx.asOf);
    const hits: NewsHit[] = results
      // The store already filters by time; this guards the promise against any later change there.
      .filter((r) => Date.parse(r.publishedAt) <= asOfMs)
      .map((r) => ({
        evidenceId: newsEvidenceId(r.id),
        newsId: r.id,
        title: r.title.slice(0, 300),
        snippet: r.snippet.slice(0, NEWS_SNIPPET_CHARS),
        publishedAt: r.publishedAt,
        source: r.source,
        tickerMatch: r.scores.tickerMatch,
        tickers: r.tickers.map((t) => t.ticker),
        sentiment: r.sentiment ?? sentimentOf(`${r.title}. ${r.snippet}`),
        score: r.score,
      }));
    return { query: input.query, asOf: ctx.asOf, ticker: ticker ?? null, hits };
  },
});
