/**
 * News ingest throughput with embeddings: the 80 bundled Reuters articles (real text) through
 * `importNews` (parse, dedupe, tickers, sentiment, USE-lite embeddings, one transaction) into an
 * in-memory PGlite, plus the embedding step alone. USE-lite runs in-process on the CPU.
 */
import path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { PROJECT_ROOT } from '../config/index.ts';
import { migrate, openPglite, openPostgres } from '../db/index.ts';
import { gunzipSync } from 'node:zlib';
import { companyMatcher, createUseLiteEmbedder, embeddingText, importNews, parseReutersXml, parseTweetsJsonl } from '../rag/index.ts';
import type { Measurement } from './run.ts';

const REUTERS = path.join(PROJECT_ROOT, 'data/samples/news-reuters-1987');
const TWEETS = path.join(PROJECT_ROOT, 'data/samples/stocknet-2014/tweets.jsonl.gz');

/**
 * The whole StockNet 2014 tweets file (26,878 lines) through importNews into PGlite: gunzip, parse,
 * spam rule, merge by id, dedupe, tickers, sentiment, USE-lite embeddings in batches, one transaction.
 * BENCH_STOCKNET_LIMIT=N imports only the first N lines (the full set takes minutes on 2 cores).
 */
async function stocknet(embedder: ReturnType<typeof createUseLiteEmbedder>): Promise<Measurement[]> {
  const text = gunzipSync(readFileSync(TWEETS)).toString('utf8');
  const p0 = performance.now();
  const parsed = parseTweetsJsonl(text, 'tweets.jsonl.gz');
  const parseSeconds = (performance.now() - p0) / 1000;
  const lines = text.split('\n').filter(Boolean);
  const out: Measurement[] = [
    {
      name: 'news: StockNet tweets parse + spam rule',
      value: lines.length / parseSeconds,
      unit: 'lines/s',
      notes: `${lines.length} lines -> ${parsed.drafts.length} items, ${parsed.spam['cashtag-list'] ?? 0} spam, ${parsed.merged} merged by id`,
    },
  ];
  const limit = Number(process.env.BENCH_STOCKNET_LIMIT ?? lines.length);
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { gzipSync } = await import('node:zlib');
  const dir = mkdtempSync(path.join(tmpdir(), 'quorum-bench-stocknet-'));
  const file = path.join(dir, 'tweets.jsonl.gz');
  writeFileSync(file, gzipSync(lines.slice(0, limit).join('\n')));
  const db = await openPglite(null);
  try {
    await migrate(db);
    const { loadavg } = await import('node:os');
    const load0 = loadavg()[0] ?? 0;
    const cpu0 = process.cpuUsage();
    const s = performance.now();
    const r = await importNews(db, embedder, file, { matcher: companyMatcher({}) });
    const seconds = (performance.now() - s) / 1000;
    // CPU of the whole process (worker threads included): steadier than wall time on a shared machine.
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    out.push(
      {
        name: 'news: StockNet tweets ingest (PGlite), lines',
        value: r.read / seconds,
        unit: 'items/s',
        notes: `${r.read} lines in ${seconds.toFixed(0)} s (${cpuSeconds.toFixed(0)} s of CPU, load average ${load0.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)}): ${r.inserted} stored, ${r.duplicates} duplicates/merged, ${r.spam['cashtag-list'] ?? 0} spam; USE-lite batches of 32, length-sorted, on worker threads; multi-row inserts`,
      },
      { name: 'news: StockNet tweets ingest (PGlite), stored', value: r.inserted / seconds, unit: 'items/s', notes: 'embedded and inserted items only' },
    );
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

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

  out.push(...(await stocknet(embedder)));

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
