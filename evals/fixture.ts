/**
 * Puts one scenario in front of the committee: its bars, its book and its proposal in the eval's
 * own database, and its news behind a point-in-time search. The committee's tools then read the
 * scenario exactly as they read live data, through the same SQL and the same tool code.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/index.ts';
import { QuorumError, type Proposal } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { dailyBarTs, parsePriceCsv, upsertBars, utcToNewYork, type Bar } from '../market/index.ts';
import { DEFAULT_RECENCY_HALF_LIFE_DAYS, SNIPPET_CHARS } from '../rag/retrieve.ts';
import type { NewsSearchQuery, NewsSearchResult } from '../rag/schema.ts';
import type { NewsSearcher } from '../tools/index.ts';
import { companyMatcher, storeNews, type CompanyMatcher, type Embedder } from '../rag/index.ts';
import type { CsvBars, Scenario, ScenarioNews, ScenarioRealised, SyntheticBars } from './scenario.ts';
import { storeOutsideProposal } from '../ml/index.ts';
import { mulberry32 } from '../contracts/random.ts';

/** The bundled price files scenarios may read. */
export const SAMPLE_PRICES_DIR = path.join(PROJECT_ROOT, 'data/samples/prices');

const parsedFiles = new Map<string, Bar[]>();

/** All bars of a bundled price file (parsed once per process). */
function sampleBars(file: string, ohlcvTicker: string): Bar[] {
  // A per-ticker file is cached per ticker it is read as; a wide or long file once.
  const cached = parsedFiles.get(file) ?? parsedFiles.get(`${file}\u0000${ohlcvTicker}`);
  if (cached) return cached;
  // A bare name is in data/samples/prices; `set/file.csv` is a bundled data set's file under data/samples.
  const full = file.includes('/') ? path.join(SAMPLE_PRICES_DIR, '..', file) : path.join(SAMPLE_PRICES_DIR, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new QuorumError(
      'INPUT_INVALID',
      `market.bars.file: cannot read ${full}: ${(error as Error).message}`,
      { field: 'market.bars.file' },
      { cause: error },
    );
  }
  // The per-ticker (OHLCV) shape needs the ticker; the wide and long (date,ticker,…) shapes refuse one.
  const header = text.slice(0, text.indexOf('\n')).toLowerCase();
  const ohlcv = /(^|,)"?close"?(,|$)/.test(header.trim()) && !/(^|,)"?ticker"?(,|$)/.test(header.trim());
  const parsed = parsePriceCsv(text, full, ohlcv ? { ticker: ohlcvTicker, source: `csv:${file}` } : { source: `csv:${file}` });
  parsedFiles.set(ohlcv ? `${file}\u0000${ohlcvTicker}` : file, parsed.bars);
  return parsed.bars;
}

function csvBars(s: Scenario, spec: CsvBars): Bar[] {
  const ticker = s.proposal.ticker;
  const column = spec.column ?? ticker;
  const asOfMs = Date.parse(s.asOf);
  const all = sampleBars(spec.file, ticker).filter((b) => b.ticker === column || b.ticker === ticker);
  const fromColumn = all.filter((b) => b.ticker === column);
  if (fromColumn.length === 0) {
    throw new QuorumError('INPUT_INVALID', `scenario ${s.id}: market.bars.column: ${spec.file} has no bars for ${column}`, { field: 'market.bars.column' });
  }
  const upTo = fromColumn.filter((b) => Date.parse(b.ts) <= asOfMs).slice(-spec.lookback);
  if (upTo.length === 0) {
    const first = fromColumn[0]?.ts.slice(0, 10) ?? '?';
    const last = fromColumn[fromColumn.length - 1]?.ts.slice(0, 10) ?? '?';
    throw new QuorumError('INPUT_INVALID', `scenario ${s.id}: asOf ${s.asOf} is before ${spec.file}'s data for ${column} (${first} .. ${last})`, {
      field: 'asOf',
    });
  }
  // A column of another ticker (a stand-in) is stored under the proposal's ticker.
  return upTo.map((b) => ({ ...b, ticker }));
}

function syntheticBars(s: Scenario, spec: SyntheticBars): Bar[] {
  const rand = mulberry32(spec.seed);
  const days: string[] = [];
  const d = new Date(`${s.asOf.slice(0, 10)}T12:00:00.000Z`);
  while (days.length < spec.bars) {
    const wd = d.getUTCDay();
    if (wd !== 0 && wd !== 6) days.unshift(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() - 1);
  }
  let close = spec.start;
  return days.map((day, i) => {
    // A sum of four uniforms is close to normal; scaled so `noise` is about one standard deviation.
    const z = (rand() + rand() + rand() + rand() - 2) * Math.sqrt(3);
    const open = close;
    const move = i === days.length - 1 && spec.lastMove !== undefined ? spec.lastMove : spec.drift + spec.noise * z;
    close = Math.max(0.01, close * (1 + move));
    const high = Math.max(open, close) * (1 + spec.noise * 0.3);
    const low = Math.min(open, close) * (1 - spec.noise * 0.3);
    return { ticker: s.proposal.ticker, timeframe: '1Day', ts: dailyBarTs(day), open, high, low, close, volume: spec.volume, source: 'eval:synthetic' };
  });
}

/**
 * What followed a scenario built from a bundled file's real bars of its own ticker (not a stand-in
 * column, not a modelled series): the move from the last close at or before its as-of to the close
 * `horizonDays` bars later, or null when the file has no such bar. Reads bars after the as-of, so it
 * is for scripts/scenario-outcomes.ts and the scorecards, never for what the committee is given.
 */
export function realisedOutcome(s: Scenario): ScenarioRealised | null {
  const spec = s.market.bars;
  if (spec.kind !== 'csv' || (spec.column !== undefined && spec.column !== s.proposal.ticker)) return null;
  const bars = sampleBars(spec.file, s.proposal.ticker).filter((b) => b.ticker === s.proposal.ticker);
  const asOfMs = Date.parse(s.asOf);
  const k = bars.findLastIndex((b) => Date.parse(b.ts) <= asOfMs);
  const start = bars[k];
  const end = bars[k + s.proposal.horizonDays];
  if (k < 0 || !start || !end || start.close <= 0) return null;
  return {
    forwardReturn: Math.round((end.close / start.close - 1) * 1e6) / 1e6,
    horizonDays: s.proposal.horizonDays,
    from: utcToNewYork(start.ts).date,
    to: utcToNewYork(end.ts).date,
  };
}

/** The bars a scenario puts in the store (point in time: none after its asOf). */
export function scenarioBars(s: Scenario): Bar[] {
  const spec = s.market.bars;
  const bars = spec.kind === 'csv' ? csvBars(s, spec) : syntheticBars(s, spec);
  return bars.filter((b) => Date.parse(b.ts) <= Date.parse(s.asOf));
}

/**
 * Replaces the eval database's market and book with the scenario's and stores its proposal, in one
 * transaction. The eval database is the eval's own (never a user's store): bars, positions and
 * equity are wiped first.
 */
export async function stageScenario(db: Db, s: Scenario, proposal: Proposal, options: { directNews?: boolean } = {}): Promise<void> {
  const bars = scenarioBars(s);
  await db.transaction(async (tx) => {
    await tx.exec('DELETE FROM bars; DELETE FROM positions; DELETE FROM equity_history;');
    await upsertBars(tx, bars);
    for (const p of s.portfolio.positions) {
      await tx.query('INSERT INTO positions (ticker, qty, avg_price, opened_at) VALUES ($1, $2, $3, NULL)', [p.ticker, p.qty, p.avgPrice]);
    }
    await tx.query(`INSERT INTO equity_history (ts, equity, cash, source) VALUES ($1, $2, $3, 'eval')`, [s.asOf, s.portfolio.equity, s.portfolio.cash]);
    // retrievals reference news_items: the scenario's items are stored (without embeddings; the
    // scenario searcher ranks them). The same id may carry another text in another scenario.
    for (const n of options.directNews === false ? [] : s.news) {
      await tx.query(
        `INSERT INTO news_items (id, source, guid, url, canonical_url, title, body, published_at, content_hash, metadata)
         VALUES ($1, $2, NULL, NULL, NULL, $3, $4, $5, $6, '{"eval": true}'::jsonb)
         ON CONFLICT (id) DO UPDATE SET source = EXCLUDED.source, title = EXCLUDED.title, body = EXCLUDED.body,
           published_at = EXCLUDED.published_at, content_hash = EXCLUDED.content_hash`,
        [n.id, n.source, n.title, n.body, n.publishedAt, createHash('sha256').update(`${n.id}\n${n.title}\n${n.body}`).digest('hex')],
      );
    }
    await tx.query(`UPDATE trading_state SET state = $1, reason = $2, updated_at = now() WHERE id = 1`, [s.portfolio.tradingState, `eval scenario ${s.id}`]);
    await storeOutsideProposal(tx, proposal, { featureSet: 'eval', version: 'scenario' });
  });
}

function snippet(text: string): string {
  return text.length <= SNIPPET_CHARS ? text : `${text.slice(0, SNIPPET_CHARS - 1)}…`;
}

/**
 * A point-in-time search over the scenario's own news, shaped like rag's searchNews: only items
 * published at or before the query's asOf, tagged with the ticker when one is asked for, ranked by
 * ticker match and recency (the scenario gives few items, so no embedding similarity is needed and
 * the ranking is deterministic).
 */
export function scenarioNewsSearcher(news: readonly ScenarioNews[]): NewsSearcher {
  return async (query: NewsSearchQuery): Promise<NewsSearchResult[]> => {
    const asOfMs = (query.asOf instanceof Date ? query.asOf : new Date(String(query.asOf))).getTime();
    const ticker = query.ticker ?? null;
    const k = query.k ?? 10;
    return news
      .filter((n) => Date.parse(n.publishedAt) <= asOfMs && (ticker === null || n.tickers.includes(ticker)))
      .map((n) => {
        const ageDays = Math.max(0, (asOfMs - Date.parse(n.publishedAt)) / 86_400_000);
        const recency = Math.exp((-Math.LN2 * ageDays) / DEFAULT_RECENCY_HALF_LIFE_DAYS);
        const tickerMatch = ticker === null ? 0 : 1;
        const result: NewsSearchResult = {
          id: n.id,
          title: n.title,
          snippet: snippet(n.body),
          publishedAt: new Date(n.publishedAt).toISOString(),
          source: n.source,
          url: null,
          tickers: n.tickers.map((t) => ({ ticker: t, confidence: 1, method: 'provided' as const })),
          sentiment: null,
          score: 0.2 * tickerMatch + 0.1 * recency,
          scores: { similarity: 0, tickerMatch, recency },
        };
        return result;
      })
      .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
      .slice(0, k);
  };
}

/**
 * Puts the scenario's news into the real news store, through the code `quorum ingest news` stores
 * with (rag's storeNews: ids, ticker tagging, sentiment, embeddings), look-ahead items included, after
 * emptying the eval database's store (and its retrievals) of the previous scenario's. Returns the
 * store id of each item mapped to its scenario id (the committee sees and cites store ids; the run
 * record translates them back).
 */
export async function ingestScenarioNews(db: Db, embedder: Embedder, s: Scenario, matcher: CompanyMatcher = companyMatcher({})): Promise<Map<string, string>> {
  await db.exec('DELETE FROM retrievals; DELETE FROM news_items;');
  await storeNews(
    db,
    embedder,
    s.news.map((n) => ({
      source: n.source,
      guid: n.id,
      url: null,
      title: n.title,
      body: n.body,
      publishedAt: new Date(n.publishedAt),
      tickers: n.tickers,
      metadata: { eval: s.id },
    })),
    matcher,
  );
  const rows = await db.query('SELECT id, guid FROM news_items');
  const ids = new Map<string, string>();
  for (const row of rows.rows) {
    const r = row as { id: string; guid: string | null };
    if (r.guid !== null) ids.set(r.id, r.guid);
  }
  return ids;
}
