import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import { parseOrThrow } from '../contracts/parse.ts';
import { fromVectorLiteral, getEmbeddingStore, toVectorLiteral, type Db, type EmbeddingStoreInfo } from '../db/index.ts';
import type { Embedder } from './embeddings.ts';
import { NewsSearchQuery, TickerMatch, type NewsSearchResult } from './schema.ts';

/** Weights of the hybrid score: similarity dominates; ticker match and recency break near-ties. */
export const DEFAULT_RETRIEVAL_WEIGHTS = { similarity: 0.7, ticker: 0.2, recency: 0.1 } as const;
/** HNSW candidates fetched per requested result, re-scored and diversified in code. */
export const CANDIDATES_PER_RESULT = 3;
export const MIN_CANDIDATES = 20;
/** MMR trade-off: 1 = pure relevance, 0 = pure diversity. */
export const DEFAULT_MMR_LAMBDA = 0.8;
/** Two items whose vectors are at least this similar are the same story: only the better one is kept. */
export const NEAR_DUPLICATE_SIMILARITY = 0.95;
export const DEFAULT_RECENCY_HALF_LIFE_DAYS = 7;
/** Characters of body in a result's snippet (what an agent reads). */
export const SNIPPET_CHARS = 280;

export interface SearchOptions {
  weights?: { similarity: number; ticker: number; recency: number };
  halfLifeDays?: number;
  mmrLambda?: number;
}

const Candidate = z.object({
  id: z.string(),
  title: z.string(),
  body: z.string(),
  url: z.string().nullable(),
  source: z.string(),
  published_at: z.coerce.date(),
  sentiment: z.number().nullable(),
  embedding: z.string(),
  distance: z.coerce.number(),
  tickers: z.array(TickerMatch),
});

/** pgvector's text form `[x,y,…]` as a unit-length vector (all zeros stays zeros), so cosine is a dot product. */
function parseUnitVector(text: string): Float64Array {
  const v = Float64Array.from(fromVectorLiteral(text));
  let norm = 0;
  for (const x of v) norm += x * x;
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) * inv;
  }
  return v;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}

function snippet(body: string, title: string): string {
  const text = (body || title).replace(/\s+/g, ' ').trim();
  if (text.length <= SNIPPET_CHARS) return text;
  const cut = text.slice(0, SNIPPET_CHARS - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > SNIPPET_CHARS / 2 ? cut.slice(0, space) : cut}…`;
}

const MS_PER_DAY = 86_400_000;

// A store's binding never changes once made (bindEmbeddingStore refuses any other), so one read per Db suffices.
const boundStores = new WeakMap<Db, EmbeddingStoreInfo>();

/**
 * Point-in-time news search. One SQL query does the filtering: only items published at or before
 * `asOf` (and, with `ticker`, tagged with it) are candidates. Without a ticker they come in HNSW
 * cosine order, pgvector's iterative scan keeping the as-of filter from cutting the list short;
 * with a ticker, the ticker's items are scanned exactly (see below). The candidates are re-scored
 * (w1 similarity + w2 ticker confidence + w3 recency decay), MMR picks k of them without near-duplicates,
 * and those are returned best score first.
 * Returns [] while the store holds no embeddings; refuses a store built by another embedder.
 */
export async function searchNews(db: Db, embedder: Embedder, input: NewsSearchQuery, options: SearchOptions = {}): Promise<NewsSearchResult[]> {
  const q = parseOrThrow(NewsSearchQuery, input, 'news search');
  const store = boundStores.get(db) ?? (await getEmbeddingStore(db));
  if (!store) return [];
  boundStores.set(db, store);
  if (store.model !== embedder.model || store.dimension !== embedder.dimension) {
    throw new QuorumError(
      'EMBEDDING_MISMATCH',
      `the news store holds ${store.model} (${store.dimension}-d) embeddings; cannot search it with ${embedder.model} (${embedder.dimension}-d)`,
      { stored: store, embedder: { model: embedder.model, dimension: embedder.dimension } },
    );
  }
  const [queryVector] = await embedder.embed([q.query]);
  if (!queryVector) throw new QuorumError('INTERNAL', 'the embedder returned no vector for the query');
  const ticker = q.ticker ?? null;
  const limit = Math.max(q.k * CANDIDATES_PER_RESULT, MIN_CANDIDATES);

  const rows = await db.transaction(async (tx) => {
    // SET LOCAL: scoped to this transaction, so pooled connections are left as they were.
    await tx.exec(`SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(100, limit))}; SET LOCAL hnsw.iterative_scan = relaxed_order;`);
    // The tickers subquery runs only for the rows the LIMIT keeps (PostgreSQL evaluates an expensive
    // select list after the ordering), and saves a round trip per search.
    const select = `SELECT n.id, n.title, n.body, n.url, n.source, n.published_at, n.sentiment, n.embedding::text AS embedding,
              n.embedding <=> $1::vector AS distance,
              (SELECT coalesce(json_agg(json_build_object('ticker', t.ticker, 'confidence', t.confidence, 'method', t.method)
                                        ORDER BY t.confidence DESC, t.ticker), '[]'::json)
                 FROM news_tickers t WHERE t.news_id = n.id) AS tickers`;
    const params = [toVectorLiteral(queryVector), q.asOf.toISOString(), limit];
    const res = ticker
      ? // One ticker's news is a small slice of the store: an exact scan of that slice (its ids from the
        // ticker index) beats a filtered HNSW walk that skips ~29 of every 30 rows, and has recall 1.
        // "+ 0" keeps the planner off the HNSW index for this ordering.
        await tx.query(
          `WITH tagged AS MATERIALIZED (SELECT news_id FROM news_tickers WHERE ticker = $4::text)
           ${select}
             FROM news_items n JOIN tagged ON tagged.news_id = n.id
            WHERE n.embedding IS NOT NULL AND n.published_at <= $2::timestamptz
            ORDER BY (n.embedding <=> $1::vector) + 0
            LIMIT $3`,
          [...params, ticker],
        )
      : await tx.query(
          `${select}
             FROM news_items n
            WHERE n.embedding IS NOT NULL AND n.published_at <= $2::timestamptz
            ORDER BY n.embedding <=> $1::vector
            LIMIT $3`,
          params,
        );
    return res.rows.map((r) => Candidate.parse(r));
  });
  if (rows.length === 0) return [];

  const w = options.weights ?? DEFAULT_RETRIEVAL_WEIGHTS;
  const halfLife = options.halfLifeDays ?? DEFAULT_RECENCY_HALF_LIFE_DAYS;
  const scored = rows.map((r) => {
    const tickers = r.tickers;
    const similarity = 1 - r.distance;
    const tickerMatch = ticker ? (tickers.find((t) => t.ticker === ticker)?.confidence ?? 0) : 0;
    const ageDays = Math.max(0, (q.asOf.getTime() - r.published_at.getTime()) / MS_PER_DAY);
    const recency = Math.exp((-Math.LN2 * ageDays) / halfLife);
    return {
      row: r,
      vector: parseUnitVector(r.embedding),
      redundancy: 0,
      tickers,
      parts: { similarity, tickerMatch, recency },
      score: w.similarity * similarity + w.ticker * tickerMatch + w.recency * recency,
    };
  });

  // MMR: take the best remaining by relevance minus redundancy (its highest cosine to anything already
  // taken). Each candidate's redundancy is updated once per pick, not recomputed against every pick.
  const lambda = options.mmrLambda ?? DEFAULT_MMR_LAMBDA;
  const pool = [...scored].sort((a, b) => b.score - a.score);
  const picked: typeof scored = [];
  while (picked.length < q.k && pool.length > 0) {
    let bestIdx = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < pool.length; i++) {
      const c = pool[i];
      if (!c) continue;
      if (c.redundancy >= NEAR_DUPLICATE_SIMILARITY) {
        pool.splice(i--, 1);
        continue;
      }
      const value = lambda * c.score - (1 - lambda) * c.redundancy;
      if (value > bestValue) {
        bestValue = value;
        bestIdx = i;
      }
    }
    if (bestIdx < 0) break;
    const [chosen] = pool.splice(bestIdx, 1);
    if (!chosen) break;
    picked.push(chosen);
    for (const c of pool) c.redundancy = Math.max(c.redundancy, dot(c.vector, chosen.vector));
  }

  // MMR decides which items are shown; they are listed best score first (ties: newer, then id).
  picked.sort((a, b) => b.score - a.score || b.row.published_at.getTime() - a.row.published_at.getTime() || a.row.id.localeCompare(b.row.id));
  return picked.map(({ row, tickers, parts, score }) => ({
    id: row.id,
    title: row.title,
    snippet: snippet(row.body, row.title),
    publishedAt: row.published_at.toISOString(),
    source: row.source,
    url: row.url,
    tickers,
    sentiment: row.sentiment,
    score,
    scores: parts,
  }));
}
