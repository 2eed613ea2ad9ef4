/**
 * News retrieval at scale: top-10 point-in-time searches over 100,000 stored items on PostgreSQL
 * + pgvector HNSW, through the real `searchNews` (SQL filter + HNSW order + hybrid score + MMR).
 *
 * The vectors are SYNTHETIC: 512-d points around 200 random cluster centres (a stand-in for the
 * topical clusters of real news embeddings): centre + one of 500 random noise vectors, generated
 * inside PostgreSQL; query vectors are a centre plus fresh noise. Built in a schema of its own, dropped afterwards. Needs
 * BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL.
 */
import { randomBytes } from 'node:crypto';
import { bindEmbeddingStore, migrate, openPostgres, toVectorLiteral, type Db } from '../db/index.ts';
import { searchNews, type Embedder } from '../rag/index.ts';
import type { Measurement } from './run.ts';
import { mulberry32 } from '../contracts/random.ts';

/** BENCH_NEWS_ITEMS overrides the size for a quick run; the budget is stated at 100,000. */
const ITEMS = Number(process.env.BENCH_NEWS_ITEMS ?? 100_000);
const SIZE = ITEMS >= 1000 ? `${Math.round(ITEMS / 1000)}k` : String(ITEMS);
const CENTRES = 200;
const DIM = 512;
const QUERIES = 200;
const WARMUP = 20;
const K = 10;
/** Spread of items around their centre, per coordinate (centres are uniform in [-1, 1]). */
const NOISE = 0.6;
const TICKERS = [
  'AA',
  'AXP',
  'T',
  'BA',
  'CAT',
  'C',
  'KO',
  'DD',
  'EK',
  'XOM',
  'GE',
  'GM',
  'HWP',
  'HD',
  'HON',
  'INTC',
  'IBM',
  'IP',
  'JPM',
  'JNJ',
  'MCD',
  'MRK',
  'MSFT',
  'MMM',
  'MO',
  'PG',
  'SBC',
  'UTX',
  'WMT',
  'DIS',
];
const START = Date.parse('2020-01-01T00:00:00Z');
const STEP_MS = 5 * 60_000;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function build(db: Db): Promise<number[][]> {
  await bindEmbeddingStore(db, { model: 'synthetic-clustered-512', dimension: DIM });
  await db.exec('DROP INDEX IF EXISTS news_items_embedding_hnsw_idx');
  const noises = Math.ceil(ITEMS / CENTRES);
  await db.transaction(async (tx) => {
    // Item i = centre (i mod 200) + noise vector (i div 200): 100,000 distinct points from 200 + 500
    // random vectors, built with pgvector's vector addition (seconds, where 51M random() calls take minutes).
    await tx.exec(`SELECT setseed(0.42);
      CREATE TABLE bench_centres AS
        SELECT c AS id, array(SELECT random() * 2 - 1 + 0 * c FROM generate_series(1, ${DIM}))::vector AS v FROM generate_series(0, ${CENTRES - 1}) c;
      CREATE TABLE bench_noise AS
        SELECT c AS id, array(SELECT (random() * 2 - 1) * ${NOISE} + 0 * c FROM generate_series(1, ${DIM}))::vector AS v FROM generate_series(0, ${noises - 1}) c;`);
    await tx.exec(`INSERT INTO news_items (id, source, title, body, published_at, content_hash, embedding)
      SELECT 'news:b' || lpad(i::text, 11, '0'), 'synthetic', 'synthetic item ' || i, '',
             timestamptz '2020-01-01 00:00:00+00' + i * interval '5 minutes', md5(i::text), c.v + nz.v
        FROM generate_series(0, ${ITEMS - 1}) i
        JOIN bench_centres c ON c.id = i % ${CENTRES}
        JOIN bench_noise nz ON nz.id = i / ${CENTRES};
      INSERT INTO news_tickers (news_id, ticker, confidence, method)
        SELECT 'news:b' || lpad(i::text, 11, '0'), (ARRAY['${TICKERS.join("','")}'])[1 + i % ${TICKERS.length}], 0.9, 'angle'
        FROM generate_series(0, ${ITEMS - 1}) i;`);
  });
  // The index is built after loading (much faster than maintaining it row by row).
  await db.transaction(async (tx) => {
    await tx.exec(`SET LOCAL maintenance_work_mem = '1GB';
      CREATE INDEX news_items_embedding_hnsw_idx ON news_items USING hnsw (embedding vector_cosine_ops);`);
  });
  await db.exec('ANALYZE news_items; ANALYZE news_tickers;');
  const centres = await db.query('SELECT v::text AS v FROM bench_centres ORDER BY id');
  return centres.rows.map((r) => String(r.v).slice(1, -1).split(',').map(Number));
}

/** The top-10 ids of the same filtered query, once by HNSW and once exactly (no index). */
async function topIds(db: Db, vector: number[], asOf: Date, ticker: string | null, exact: boolean): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.exec(
      exact
        ? 'SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off;'
        : 'SET LOCAL hnsw.ef_search = 100; SET LOCAL hnsw.iterative_scan = relaxed_order;',
    );
    const res = await tx.query(
      `SELECT n.id FROM news_items n
        WHERE n.embedding IS NOT NULL AND n.published_at <= $2::timestamptz
          AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM news_tickers t WHERE t.news_id = n.id AND t.ticker = $3::text))
        ORDER BY n.embedding <=> $1::vector LIMIT ${K}`,
      [toVectorLiteral(vector), asOf.toISOString(), ticker],
    );
    return res.rows.map((r) => String(r.id));
  });
}

export default async function bench(): Promise<Measurement[]> {
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!base) {
    process.stderr.write('retrieval.bench: no PostgreSQL (set BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL); nothing measured\n');
    return [];
  }
  const schema = `bench_news_${randomBytes(4).toString('hex')}`;
  const admin = await openPostgres(base, { poolMax: 1 });
  await admin.exec(`CREATE EXTENSION IF NOT EXISTS vector; CREATE SCHEMA ${schema}`);
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema},public`);
  const db = await openPostgres(url.toString(), { poolMax: 2, statementTimeoutMs: 1_800_000 });
  try {
    await migrate(db);
    const t0 = performance.now();
    const centres = await build(db);
    const buildSeconds = (performance.now() - t0) / 1000;

    const rand = mulberry32(7);
    const noisy = (c: number[]): number[] => c.map((x) => x + (rand() * 2 - 1) * NOISE);
    const queryVectors = new Map<string, number[]>();
    // The embedder returns the prepared synthetic vector for each query text.
    const embedder: Embedder = {
      model: 'synthetic-clustered-512',
      dimension: DIM,
      embed: async (texts) => texts.map((t) => queryVectors.get(t) ?? noisy(centres[0] ?? [])),
    };
    const end = START + ITEMS * STEP_MS;
    const cases = Array.from({ length: QUERIES + WARMUP }, (_, i) => {
      const text = `synthetic query ${i}`;
      queryVectors.set(text, noisy(centres[Math.floor(rand() * CENTRES)] ?? []));
      // As-of anywhere in the last 90% of the period, so the point-in-time filter always bites.
      return { text, asOf: new Date(START + (0.1 + 0.9 * rand()) * (end - START)), ticker: TICKERS[Math.floor(rand() * TICKERS.length)] ?? null };
    });

    const time = async (withTicker: boolean): Promise<number[]> => {
      const ms: number[] = [];
      for (const [i, c] of cases.entries()) {
        const s = performance.now();
        const res = await searchNews(db, embedder, { query: c.text, asOf: c.asOf, ticker: withTicker ? c.ticker : null, k: K });
        if (i >= WARMUP) ms.push(performance.now() - s);
        if (res.length !== K) throw new Error(`query ${i} returned ${res.length} results, expected ${K}`);
      }
      return ms.sort((a, b) => a - b);
    };
    const plain = await time(false);
    const filtered = await time(true);

    let hits = 0;
    let hitsTicker = 0;
    const recallCases = cases.slice(WARMUP, WARMUP + 100);
    for (const c of recallCases) {
      const v = queryVectors.get(c.text) ?? [];
      const exact = new Set(await topIds(db, v, c.asOf, null, true));
      hits += (await topIds(db, v, c.asOf, null, false)).filter((id) => exact.has(id)).length;
      const exactT = new Set(await topIds(db, v, c.asOf, c.ticker, true));
      hitsTicker += (await topIds(db, v, c.asOf, c.ticker, false)).filter((id) => exactT.has(id)).length;
    }
    const note = `PostgreSQL+pgvector HNSW (m=16, ef_construction=64, ef_search=100, iterative_scan=relaxed_order), ${ITEMS} SYNTHETIC clustered 512-d vectors, as-of filter in SQL`;
    return [
      {
        name: `news: build ${SIZE} items + HNSW index`,
        value: buildSeconds,
        unit: 's',
        notes: 'synthetic vectors generated in SQL; index created after loading, maintenance_work_mem=1GB',
      },
      { name: `news: top-10 point-in-time query p50 (${SIZE})`, value: percentile(plain, 50), unit: 'ms', notes: note },
      {
        name: `news: top-10 point-in-time query p95 (${SIZE})`,
        value: percentile(plain, 95),
        unit: 'ms',
        budget: '< 20 ms',
        ok: percentile(plain, 95) < 20,
        notes: note,
      },
      {
        name: `news: top-10 point-in-time + ticker query p50 (${SIZE})`,
        value: percentile(filtered, 50),
        unit: 'ms',
        notes: `${note}; ticker filter keeps 1/30 of items`,
      },
      {
        name: `news: top-10 point-in-time + ticker query p95 (${SIZE})`,
        value: percentile(filtered, 95),
        unit: 'ms',
        notes: `${note}; ticker filter keeps 1/30 of items`,
      },
      {
        name: 'news: recall@10 vs exact search (as-of filter)',
        value: hits / (recallCases.length * K),
        unit: 'ratio',
        notes: `${recallCases.length} queries, SQL top-10 with HNSW vs with index scans off`,
      },
      {
        name: 'news: recall@10 of HNSW+EXISTS ticker filter vs exact',
        value: hitsTicker / (recallCases.length * K),
        unit: 'ratio',
        notes: `${recallCases.length} queries; the alternative searchNews does not use: with a ticker it scans that ticker's items exactly (recall 1)`,
      },
    ];
  } finally {
    await db.close();
    await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  }
}
