import { z } from 'zod';
import { bindEmbeddingStore, toVectorLiteral, valueGroups, type Db, type Queryable } from '../db/index.ts';
import { canonicalUrl, contentHash, newsId } from './canonical.ts';
import { embeddingText, type Embedder } from './embeddings.ts';
import { sentimentOf } from './sentiment.ts';
import { extractTickers, type CompanyMatcher } from './tickers.ts';
import type { NewsDraft, StoreResult, TickerMatch } from './schema.ts';

/** A draft with everything derived, ready to insert. */
export interface PreparedNews {
  id: string;
  draft: NewsDraft;
  canonicalUrl: string | null;
  contentHash: string;
  tickers: TickerMatch[];
  sentiment: number;
  embedding: number[];
}

const ExistingRow = z.object({ canonical_url: z.string().nullable(), source: z.string(), guid: z.string().nullable(), content_hash: z.string() });

function identityKeys(p: { canonicalUrl: string | null; source: string; guid: string | null; contentHash: string }): string[] {
  const keys = [`hash:${p.contentHash}`];
  if (p.canonicalUrl) keys.push(`url:${p.canonicalUrl}`);
  if (p.guid) keys.push(`guid:${p.source}\n${p.guid}`);
  return keys;
}

/**
 * Derives ids, tickers and sentiment, drops drafts already stored or repeated in the batch (by
 * canonical URL, source + guid, or content hash), then embeds only what is new. Binds the store
 * to the embedder first, so a different model is refused before any work is done.
 */
export async function prepareNews(
  db: Db,
  embedder: Embedder,
  drafts: readonly NewsDraft[],
  matcher: CompanyMatcher,
  onEmbedded?: (done: number, total: number) => void,
): Promise<{ prepared: PreparedNews[]; duplicates: number }> {
  await bindEmbeddingStore(db, { model: embedder.model, dimension: embedder.dimension });
  const derived = drafts.map((draft) => {
    const canon = draft.url ? canonicalUrl(draft.url) : null;
    const hash = contentHash(draft.title, draft.body);
    return { draft, canonicalUrl: canon, contentHash: hash, id: newsId({ canonicalUrl: canon, source: draft.source, guid: draft.guid, contentHash: hash }) };
  });
  const seen = new Set<string>();
  if (derived.length > 0) {
    const existing = await db.query(
      `SELECT canonical_url, source, guid, content_hash FROM news_items
        WHERE canonical_url = ANY($1::text[]) OR content_hash = ANY($2::text[]) OR guid = ANY($3::text[])`,
      [
        derived.flatMap((d) => (d.canonicalUrl ? [d.canonicalUrl] : [])),
        derived.map((d) => d.contentHash),
        derived.flatMap((d) => (d.draft.guid ? [d.draft.guid] : [])),
      ],
    );
    for (const row of existing.rows) {
      const r = ExistingRow.parse(row);
      for (const k of identityKeys({ canonicalUrl: r.canonical_url, source: r.source, guid: r.guid, contentHash: r.content_hash })) seen.add(k);
    }
  }
  const fresh: typeof derived = [];
  for (const d of derived) {
    const keys = identityKeys({ ...d, source: d.draft.source, guid: d.draft.guid });
    if (keys.some((k) => seen.has(k))) continue;
    for (const k of keys) seen.add(k);
    fresh.push(d);
  }
  const vectors: number[][] = [];
  const texts = fresh.map((d) => embeddingText(d.draft.title, d.draft.body));
  // Embed in slices so a caller can show progress on a long import; a slice is large enough for
  // the embedder to spread its batches over its workers (USE_LITE_POOL_MIN_TEXTS, 256).
  // Equal slices of at most 512: none falls below 256 once there are two.
  const slice = Math.ceil(texts.length / Math.max(1, Math.ceil(texts.length / 512)));
  for (let i = 0; i < texts.length; i += slice) {
    vectors.push(...(await embedder.embed(texts.slice(i, i + slice))));
    onEmbedded?.(Math.min(i + slice, texts.length), texts.length);
  }
  const prepared = fresh.map((d, i) => ({
    ...d,
    tickers: extractTickers(`${d.draft.title}\n${d.draft.body}`, matcher, d.draft.tickers),
    sentiment: sentimentOf(`${d.draft.title}\n${d.draft.body}`),
    embedding: vectors[i] ?? [],
  }));
  return { prepared, duplicates: drafts.length - fresh.length };
}

/** Rows per multi-row INSERT: 12 parameters a row stays far below PostgreSQL's 65,535. */
const INSERT_CHUNK = 500;
const NEWS_CASTS = ['', '', '', '', '', '', '', '::timestamptz', '', '', '::vector', '::jsonb'];

/**
 * Inserts prepared items and their tickers with `q` (pass a transaction to make a batch atomic),
 * one multi-row INSERT per chunk of items and one for their tickers: a statement per row made
 * the SQL round trips a large part of a long import. A row that a concurrent writer stored
 * meanwhile is skipped (ON CONFLICT on any unique key), and so are its tickers.
 */
export async function insertPrepared(q: Queryable, prepared: readonly PreparedNews[]): Promise<StoreResult> {
  const ids: string[] = [];
  for (let i = 0; i < prepared.length; i += INSERT_CHUNK) {
    const chunk = prepared.slice(i, i + INSERT_CHUNK);
    const params: unknown[] = [];
    const values = valueGroups(
      chunk.map((p) => [
        p.id,
        p.draft.source,
        p.draft.guid,
        p.draft.url,
        p.canonicalUrl,
        p.draft.title,
        p.draft.body,
        p.draft.publishedAt.toISOString(),
        p.contentHash,
        p.sentiment,
        toVectorLiteral(p.embedding),
        JSON.stringify(p.draft.metadata),
      ]),
      params,
      NEWS_CASTS,
    );
    const res = await q.query(
      `INSERT INTO news_items (id, source, guid, url, canonical_url, title, body, published_at, content_hash, sentiment, embedding, metadata)
       VALUES ${values} ON CONFLICT DO NOTHING RETURNING id`,
      params,
    );
    const stored = new Set(res.rows.map((row) => z.object({ id: z.string() }).parse(row).id));
    const kept = chunk.filter((p) => stored.has(p.id));
    ids.push(...kept.map((p) => p.id));
    const tickers = kept.flatMap((p) => p.tickers.map((t) => [p.id, t.ticker, t.confidence, t.method]));
    if (tickers.length === 0) continue;
    const tparams: unknown[] = [];
    await q.query(`INSERT INTO news_tickers (news_id, ticker, confidence, method) VALUES ${valueGroups(tickers, tparams, [])} ON CONFLICT DO NOTHING`, tparams);
  }
  return { inserted: ids.length, duplicates: prepared.length - ids.length, ids };
}

/** Prepares and stores `drafts` in one transaction: all new items are stored, or none. */
export async function storeNews(db: Db, embedder: Embedder, drafts: readonly NewsDraft[], matcher: CompanyMatcher): Promise<StoreResult> {
  const { prepared, duplicates } = await prepareNews(db, embedder, drafts, matcher);
  const res = await db.transaction((tx) => insertPrepared(tx, prepared));
  return { ...res, duplicates: res.duplicates + duplicates };
}
