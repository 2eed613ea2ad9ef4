/**
 * Retrieval quality on noisy real text: StockNet tweets of 2014-04-14..2014-04-30 (real; spam rule applied) in
 * PGlite with USE-lite vectors, and a small labelled query set of what a committee asks ("earnings
 * guidance", "lawsuit", "product launch") for 6 tickers. precision@5 of:
 *  - the raw vector order through the HNSW index vs an exact scan (same SQL, "+ 0" keeps the planner off the index);
 *  - the production searchNews, with the ticker (exact scan of its items, hybrid score, MMR) and without.
 *
 * The labels are rules fixed here before any run: an item is relevant to (ticker, topic) when it is
 * tagged with the ticker and its text matches the topic's pattern below. Rule labels are a stand-in
 * for hand labels (they miss paraphrases and count some off-topic matches); they are the same for
 * every mode, so the comparison between modes is fair. BENCH_QUALITY_FROM / BENCH_QUALITY_TO change the window.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { PROJECT_ROOT } from '../config/index.ts';
import { migrate, openPglite, toVectorLiteral, type Db } from '../db/index.ts';
import { companyMatcher, createUseLiteEmbedder, parseTweetsJsonl, searchNews, storeNews } from '../rag/index.ts';
import type { Measurement } from './run.ts';

const TWEETS = path.join(PROJECT_ROOT, 'data/samples/stocknet-2014/tweets.jsonl.gz');
const FROM = process.env.BENCH_QUALITY_FROM ?? '2014-04-14T00:00:00Z';
const TO = process.env.BENCH_QUALITY_TO ?? '2014-05-01T00:00:00Z';
const K = 5;

/** The labelled query set: topic -> the pattern a relevant item's text matches. */
export const TOPICS: Readonly<Record<string, RegExp>> = {
  'earnings guidance': /\b(earnings|eps|revenue|guidance|outlook|quarter(ly)?|q[1-4]|beats?|miss(es|ed)?|estimates?|results|profit)\b/i,
  lawsuit: /\b(lawsuits?|sue[sd]?|suing|court|judge|jury|legal|settle(ment|s|d)?|patent|antitrust|fined?|probe|investigation|trial)\b/i,
  'product launch': /\b(launch(es|ed|ing)?|unveil(s|ed|ing)?|introduc(es|ed|ing)|releas(es|ed|ing)|debuts?|rolls? out|new (phone|device|product|service))\b/i,
};
export const QUERY_TICKERS: Readonly<Record<string, string>> = {
  AAPL: 'Apple',
  GOOG: 'Google',
  FB: 'Facebook',
  MSFT: 'Microsoft',
  AMZN: 'Amazon',
  PFE: 'Pfizer',
};

const Row = z.object({ id: z.string() });

async function vectorOrder(db: Db, vector: number[], exact: boolean): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.exec('SET LOCAL hnsw.ef_search = 40');
    const res = await tx.query(`SELECT id FROM news_items WHERE embedding IS NOT NULL ORDER BY (embedding <=> $1::vector)${exact ? ' + 0' : ''} LIMIT ${K}`, [
      toVectorLiteral(vector),
    ]);
    return res.rows.map((r) => Row.parse(r).id);
  });
}

export default async function bench(): Promise<Measurement[]> {
  const embedder = createUseLiteEmbedder();
  const parsed = parseTweetsJsonl(gunzipSync(readFileSync(TWEETS)).toString('utf8'), 'tweets.jsonl.gz');
  const from = new Date(FROM);
  const to = new Date(TO);
  const drafts = parsed.drafts.filter((d) => d.publishedAt >= from && d.publishedAt < to);
  const db = await openPglite(null);
  try {
    await migrate(db);
    const stored = await storeNews(db, embedder, drafts, companyMatcher({}));
    const items = new Map<string, { text: string; tickers: Set<string> }>();
    const rows = await db.query(
      'SELECT n.id, n.title, array_agg(t.ticker) AS tickers FROM news_items n JOIN news_tickers t ON t.news_id = n.id GROUP BY n.id, n.title',
    );
    for (const r of rows.rows) {
      const v = z.object({ id: z.string(), title: z.string(), tickers: z.array(z.string()) }).parse(r);
      items.set(v.id, { text: v.title, tickers: new Set(v.tickers) });
    }
    const relevant = (id: string, ticker: string, topic: string): boolean => {
      const it = items.get(id);
      return it !== undefined && it.tickers.has(ticker) && (TOPICS[topic]?.test(it.text) ?? false);
    };
    const modes = { hnsw: [] as number[], exact: [] as number[], searchTicker: [] as number[], searchNoTicker: [] as number[], overlap: [] as number[] };
    let queries = 0;
    let answerable = 0;
    for (const [ticker, name] of Object.entries(QUERY_TICKERS)) {
      for (const topic of Object.keys(TOPICS)) {
        const pool = [...items.keys()].filter((id) => relevant(id, ticker, topic)).length;
        queries++;
        if (pool === 0) continue;
        answerable++;
        const query = `${name} ${topic}`;
        const [vector] = await embedder.embed([query]);
        if (!vector) throw new Error('no query vector');
        const p = (ids: readonly string[]): number => ids.filter((id) => relevant(id, ticker, topic)).length / K;
        const h = await vectorOrder(db, vector, false);
        const e = await vectorOrder(db, vector, true);
        modes.hnsw.push(p(h));
        modes.exact.push(p(e));
        modes.overlap.push(h.filter((id) => e.includes(id)).length / K);
        modes.searchTicker.push(p((await searchNews(db, embedder, { query, asOf: to, ticker, k: K })).map((r) => r.id)));
        modes.searchNoTicker.push(p((await searchNews(db, embedder, { query, asOf: to, k: K })).map((r) => r.id)));
      }
    }
    const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const notes = `${answerable} of ${queries} queries with a relevant item; ${stored.inserted} tweets ${FROM.slice(0, 10)}..${TO.slice(0, 10)} (spam dropped)`;
    return [
      { name: 'retrieval quality: precision@5, raw vector order, HNSW', value: mean(modes.hnsw), unit: 'fraction', notes },
      { name: 'retrieval quality: precision@5, raw vector order, exact scan', value: mean(modes.exact), unit: 'fraction', notes },
      { name: 'retrieval quality: HNSW top-5 overlap with exact', value: mean(modes.overlap), unit: 'fraction', notes: 'recall@5 of the index' },
      {
        name: 'retrieval quality: precision@5, searchNews with ticker',
        value: mean(modes.searchTicker),
        unit: 'fraction',
        notes: 'exact scan of the ticker, hybrid score, MMR',
      },
      {
        name: 'retrieval quality: precision@5, searchNews without ticker',
        value: mean(modes.searchNoTicker),
        unit: 'fraction',
        notes: 'HNSW, hybrid score, MMR',
      },
    ];
  } finally {
    await db.close();
  }
}
