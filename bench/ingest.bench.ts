/**
 * News ingest throughput with embeddings: the 80 bundled Reuters articles (real text) through
 * `importNews` (parse, dedupe, tickers, sentiment, USE-lite embeddings, one transaction) into an
 * in-memory PGlite, plus the embedding step alone. USE-lite runs in-process on the CPU.
 */
import path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { PROJECT_ROOT } from '../config/index.ts';
import { migrate, openPglite, openPostgres } from '../db/index.ts';
import { companyMatcher, createUseLiteEmbedder, embeddingText, importNews, parseReutersXml } from '../rag/index.ts';
import type { Measurement } from './run.ts';

const REUTERS = path.join(PROJECT_ROOT, 'data/samples/news-reuters-1987');

export default async function bench(): Promise<Measurement[]> {
  const embedder = createUseLiteEmbedder();
  // Load the model outside the timed part: it happens once per process.
  const loadStart = performance.now();
  await embedder.embed(['warm up']);
  const loadMs = performance.now() - loadStart;

  const texts: string[] = [];
  for (const sub of ['acq', 'crude']) {
    for (const f of readdirSync(path.join(REUTERS, sub))) {
      for (const d of parseReutersXml(readFileSync(path.join(REUTERS, sub, f), 'utf8'), f).drafts) texts.push(embeddingText(d.title, d.body));
    }
  }
  const e0 = performance.now();
  await embedder.embed(texts);
  const embedSeconds = (performance.now() - e0) / 1000;

  const out: Measurement[] = [
    { name: 'news: USE-lite model load + first embed', value: loadMs, unit: 'ms', notes: 'once per process' },
    {
      name: 'news: USE-lite embeddings alone',
      value: texts.length / embedSeconds,
      unit: 'items/s',
      notes: `${texts.length} Reuters articles, title + first 1000 chars`,
    },
  ];

  const db = await openPglite(null);
  try {
    await migrate(db);
    const s = performance.now();
    const r = await importNews(db, embedder, REUTERS, { matcher: companyMatcher({}) });
    const seconds = (performance.now() - s) / 1000;
    out.push({
      name: 'news: ingest with embeddings (PGlite)',
      value: r.read / seconds,
      unit: 'items/s',
      notes: `${r.read} Reuters articles (${r.inserted} stored), parse+dedupe+tickers+sentiment+USE-lite+insert, one transaction`,
    });
  } finally {
    await db.close();
  }

  const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (url) {
    const schema = `bench_ingest_${process.pid}`;
    const admin = await openPostgres(url, { poolMax: 1 });
    await admin.exec(`CREATE EXTENSION IF NOT EXISTS vector; CREATE SCHEMA ${schema}`);
    const u = new URL(url);
    u.searchParams.set('options', `-c search_path=${schema},public`);
    const pg = await openPostgres(u.toString(), { poolMax: 2 });
    try {
      await migrate(pg);
      const s = performance.now();
      const r = await importNews(pg, embedder, REUTERS, { matcher: companyMatcher({}) });
      const seconds = (performance.now() - s) / 1000;
      out.push({
        name: 'news: ingest with embeddings (PostgreSQL)',
        value: r.read / seconds,
        unit: 'items/s',
        notes: `${r.read} Reuters articles, same pipeline`,
      });
    } finally {
      await pg.close();
      await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
    }
  }
  return out;
}
