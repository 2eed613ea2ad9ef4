export {
  Ticker,
  TickerMatch,
  TickerMethod,
  NewsDraft,
  JsonlNewsLine,
  RejectedLine,
  StoreResult,
  FeedPollResult,
  FeedStatus,
  ImportResult,
  NewsSearchQuery,
  NewsSearchResult,
  ScoreParts,
  MAX_SEARCH_K,
  MAX_QUERY_CHARS,
} from './schema.ts';
export { canonicalUrl, contentHash, newsId } from './canonical.ts';
export { sentimentOf } from './sentiment.ts';
export { extractTickers, companyMatcher, TICKER_CONFIDENCE, type CompanyMatcher } from './tickers.ts';
export {
  createEmbedder,
  createUseLiteEmbedder,
  createOllamaEmbedder,
  embeddingText,
  USE_LITE_MODEL,
  USE_LITE_DIMENSION,
  DEFAULT_EMBED_BATCH_SIZE,
  DEFAULT_EMBED_MAX_CHARS,
  type Embedder,
  type OllamaEmbedderOptions,
} from './embeddings.ts';
export { storeNews } from './store.ts';
export { parseReutersXml, parseReutersDate, REUTERS_SOURCE } from './reuters.ts';
export { importNews, parseJsonl, importFiles, DEFAULT_JSONL_SOURCE, type ImportOptions } from './import.ts';
export { pollFeed, pollFeeds, DEFAULT_FEED_CONCURRENCY, type FeedSource, type PollOptions } from './feeds.ts';
export {
  searchNews,
  DEFAULT_RETRIEVAL_WEIGHTS,
  DEFAULT_MMR_LAMBDA,
  NEAR_DUPLICATE_SIMILARITY,
  DEFAULT_RECENCY_HALF_LIFE_DAYS,
  SNIPPET_CHARS,
  type SearchOptions,
} from './retrieve.ts';
export {
  parseTweetsJsonl,
  decodeTweetText,
  spamReason,
  isTweetShaped,
  tweetUrl,
  TweetLine,
  TWEET_SOURCE,
  SPAM_MIN_CASHTAGS,
  type ParsedTweets,
} from './tweets.ts';
export {
  storeOutcome,
  recordOutcome,
  type OutcomeReflector,
  searchOutcomes,
  situationText,
  outcomeBase,
  outcomeSummary,
  outcomeId,
  directionalReturn,
  OutcomeRecord,
  OutcomeSearchQuery,
  OutcomeHit,
  OutcomeExit,
  OutcomeExitReason,
  MAX_OUTCOME_K,
  MAX_REFLECTION_CHARS,
  type OutcomeRecordInput,
} from './outcomes.ts';
