import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { DEFAULT_DEMO_DATE, PROJECT_ROOT, type Config, type Logger } from '../config/index.ts';
import { errorMessage, QuorumError } from '../contracts/index.ts';
import { openDb, pgliteDir } from '../db/index.ts';
import { createBroker, startPaperExchange } from '../execution/index.ts';
import { closeBackend, openCheckpointer, selectBackend, type BackendChoice } from '../graph/index.ts';
import { barCoverage, ingestPriceCsv, newYorkToUtc } from '../market/index.ts';
import { checkProposalDate, loadProposer, registerModel } from '../ml/index.ts';
import { companyMatcher, createEmbedder, importNews, parseTweetsJsonl, searchNews, storeNews, type Embedder } from '../rag/index.ts';
import { loadReportData, type ReportData } from './report-data.ts';
import { runSession } from './run.ts';

/** The demo session's New York time of day. */
export const DEMO_TIME = { hour: 12, minute: 30 } as const;
export const DEMO_PRICES = path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv');
export const DEMO_NEWS = path.join(PROJECT_ROOT, 'data/samples/news-reuters-1987');

/** The bundled universes a demo runs on: the Dow 30 of 1991-2001 (news-blind), or StockNet's 30 stocks of 2013-2014 with real tweets. */
export const DemoUniverse = z.enum(['dow30', 'stocknet']);
export type DemoUniverse = z.infer<typeof DemoUniverse>;

export const STOCKNET_DIR = path.join(PROJECT_ROOT, 'data/samples/stocknet-2014');
export const STOCKNET_PRICES = path.join(STOCKNET_DIR, 'prices.csv');
export const STOCKNET_TWEETS = path.join(STOCKNET_DIR, 'tweets.jsonl.gz');
/** The proposer trained on StockNet's 2013 bars only (`--until 2013-12-31`): every 2014 day is out of sample. */
export const STOCKNET_CARD = path.join(PROJECT_ROOT, 'models/stocknet-2014/model-card.json');
export const STOCKNET_TICKERS = [
  'AAPL',
  'MSFT',
  'GOOG',
  'AMZN',
  'FB',
  'INTC',
  'CSCO',
  'ORCL',
  'XOM',
  'CVX',
  'JPM',
  'BAC',
  'WFC',
  'C',
  'V',
  'JNJ',
  'PFE',
  'MRK',
  'KO',
  'PEP',
  'PG',
  'WMT',
  'HD',
  'DIS',
  'GE',
  'BA',
  'T',
  'VZ',
  'MCD',
  'CAT',
] as const;
/** Midday of Amazon's earnings day (reported after that close: those tweets exist in the store and must stay unseen), a week after Google's. */
export const DEFAULT_STOCKNET_DATE = '2014-04-24';
/** Days of tweets before the as-of a StockNet demo imports. */
export const DEFAULT_STOCKNET_NEWS_DAYS = 2;
/** Hours of tweets after the as-of it imports too: they exist in the store and the point-in-time search must keep them unseen. */
export const STOCKNET_AFTER_HOURS = 6;
const DAY_MS = 86_400_000;

/**
 * Stores the StockNet tweets published in (asOf - newsDays, asOf + STOCKNET_AFTER_HOURS]: the same parse, spam rule,
 * dedupe, tagging, sentiment and embedding as `quorum ingest news`. Tweets after the as-of are stored
 * on purpose: the point-in-time search must keep them out of the debate. Re-running embeds only new ones.
 */
export async function importStocknetWindow(
  db: Parameters<typeof storeNews>[0],
  embedder: Embedder,
  options: { asOf: string; newsDays: number; companies: Readonly<Record<string, string>> },
): Promise<{ window: [string, string]; inserted: number; duplicates: number; spam: number }> {
  const asOfMs = Date.parse(options.asOf);
  const from = new Date(asOfMs - options.newsDays * DAY_MS);
  const to = new Date(asOfMs + STOCKNET_AFTER_HOURS * 3_600_000);
  const parsed = parseTweetsJsonl(gunzipSync(readFileSync(STOCKNET_TWEETS)).toString('utf8'), path.relative(PROJECT_ROOT, STOCKNET_TWEETS));
  const drafts = parsed.drafts.filter((d) => d.publishedAt > from && d.publishedAt <= to);
  const res = await storeNews(db, embedder, drafts, companyMatcher(options.companies));
  return { window: [from.toISOString(), to.toISOString()], inserted: res.inserted, duplicates: res.duplicates, spam: parsed.spam['cashtag-list'] ?? 0 };
}

export interface DemoOptions {
  config: Config;
  log: Logger;
  /**
   * YYYY-MM-DD, a trading day inside the stored bars (the bundled ones: 1991-03-14..2001-01-02); the
   * session runs at 12:30 New York time that day and its orders fill at that day's close.
   */
  date?: string;
  backend?: BackendChoice;
  /** Default dow30. stocknet: PGlite under <dataDir>/stocknet (its own store), the StockNet proposer, real tweets. */
  universe?: DemoUniverse;
  /** stocknet: days of tweets before the as-of to import (default DEFAULT_STOCKNET_NEWS_DAYS). */
  newsDays?: number;
  onProgress?: (message: string) => void;
  /** Progress of the slow step, embedding the bundled news (for a progress bar). */
  onEmbedProgress?: (done: number, total: number) => void;
}

export interface DemoResult {
  sessionId: string;
  created: boolean;
  database: string;
  notice: string;
  report: ReportData;
  reportHtml: string | null;
  reportMarkdown: string | null;
}

/**
 * The whole product on embedded defaults: migrate the database (PGlite unless DATABASE_URL), import the
 * bundled prices and news once, load the committed default model, start the paper exchange in-process,
 * run one committee session at the paper exchange's clock set to that date (also after a later date
 * ran), let the exchange fill the session's next bar, and write the report. Running it again for the
 * same date reports the stored session (one session per slot). A date that is no trading day, or
 * outside the stored bars and the feature warm-up, is refused (INPUT_INVALID, field `date`) before the
 * slow news import.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { config, log } = options;
  const say = (m: string): void => {
    log.info(m);
    options.onProgress?.(m);
  };
  const universe = options.universe ?? 'dow30';
  const stocknet = universe === 'stocknet';
  const date = options.date ?? (stocknet ? DEFAULT_STOCKNET_DATE : DEFAULT_DEMO_DATE);
  // 2013 is the StockNet proposer's training window and has no tweets: a demo there would be in-sample and news-blind.
  if (stocknet && !date.startsWith('2014-')) {
    throw new QuorumError('INPUT_INVALID', `--date: ${date} is outside 2014, the StockNet universe's out-of-sample year with tweets (2014-01-02..2014-12-30)`, {
      field: 'date',
    });
  }
  const asOf = newYorkToUtc(date, DEMO_TIME.hour, DEMO_TIME.minute);
  // The StockNet universe keeps its own embedded store: its tickers overlap the Dow 30's, its news must not mix with 1987's.
  const dbConfig = stocknet ? { ...config, dataDir: path.join(config.dataDir, 'stocknet') } : config;
  const db = await openDb(dbConfig);
  const database = db.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : `PGlite at ${pgliteDir(dbConfig)}`;
  say(`database: ${database}, migrated`);
  const closers: Array<() => Promise<void>> = [() => db.close()];
  try {
    const coverage = await barCoverage(db);
    if (stocknet) {
      if (!coverage.some((c) => c.ticker === 'AAPL' && c.last >= '2014-12-31')) {
        say('importing the bundled StockNet daily OHLCV of 30 stocks (2013-01-02..2014-12-31) ...');
        const res = await ingestPriceCsv(db, STOCKNET_PRICES);
        say(`  ${res.bars} bars of ${res.tickers.length} tickers`);
      }
    } else if (coverage.length === 0) {
      say('importing the bundled Dow 30 daily closes (1990-12-31..2001-01-02) ...');
      const res = await ingestPriceCsv(db, DEMO_PRICES);
      say(`  ${res.bars} bars of ${res.tickers.length} tickers`);
    }
    await checkProposalDate(db, date, { purpose: 'demo', field: 'date', label: '--date', at: DEMO_TIME });
    const embedder = await createEmbedder(config);
    if (stocknet) {
      const newsDays = options.newsDays ?? DEFAULT_STOCKNET_NEWS_DAYS;
      say(
        `importing the StockNet tweets of ${newsDays} day(s) before ${asOf} and ${STOCKNET_AFTER_HOURS} h after it (real, 2014; the later ones must stay unseen) ...`,
      );
      const res = await importStocknetWindow(db, embedder, { asOf, newsDays, companies: config.settings.news.companies });
      say(`  ${res.inserted} tweets stored (${res.duplicates} already stored) from ${res.window[0]} to ${res.window[1]}`);
    } else {
      const news = await db.query('SELECT count(*)::int AS n FROM news_items');
      if (Number(news.rows[0]?.n ?? 0) === 0) {
        say('importing the bundled Reuters news (1987; real, but not contemporary with the prices) ...');
        const res = await importNews(db, embedder, DEMO_NEWS, { matcher: companyMatcher(config.settings.news.companies), onProgress: options.onEmbedProgress });
        say(`  ${res.inserted} news items stored (${res.duplicates} duplicates)`);
      }
    }

    const cardPath = stocknet ? STOCKNET_CARD : path.resolve(PROJECT_ROOT, config.models.proposer.cardPath);
    const proposer = await loadProposer(cardPath);
    closers.unshift(() => proposer.session.release());
    await registerModel(db, proposer.card, cardPath, 'production').catch((error: unknown) => {
      // Another production model of this id is already registered: keep it, the card is stored either way.
      log.warn({ err: errorMessage(error) }, 'model registration kept the existing stage');
      return registerModel(db, proposer.card, cardPath, 'staging');
    });
    say(`proposer: ${proposer.card.modelId}@${proposer.card.version} (${cardPath})`);

    const exchange = await startPaperExchange({ db, settings: config.settings.execution.paperExchange, port: 0, initialNow: asOf });
    closers.unshift(() => exchange.close());
    say(`paper exchange: ${exchange.url} (in-process, clock at ${await exchange.exchange.now()})`);
    const broker = createBroker(config, { paperExchangeUrl: exchange.url });

    const backend = await selectBackend(config, options.backend);
    closers.unshift(() => closeBackend(backend.backend));
    const checkpointer = await openCheckpointer(db, { databaseUrl: config.secrets.databaseUrl });
    closers.unshift(() => checkpointer.close());
    const outcome = await runSession(
      {
        db,
        config,
        log,
        broker,
        backend,
        proposer,
        searchNews: (q) => searchNews(db, embedder, q),
        embedder,
        now: () => asOf,
        checkpointer: checkpointer.saver,
        exchangeClock: exchange.exchange,
      },
      {
        asOf,
        kind: 'demo',
        slot: `demo${stocknet ? ' stocknet' : ''} ${date} 12:30 America/New_York`,
        ...(stocknet ? { tickers: STOCKNET_TICKERS } : {}),
        onProgress: options.onProgress,
      },
    );
    const report = await loadReportData(db, outcome.sessionId, asOf);
    return {
      sessionId: outcome.sessionId,
      created: outcome.created,
      database,
      notice: outcome.notice,
      report,
      reportHtml: outcome.report?.html ?? null,
      reportMarkdown: outcome.report?.markdown ?? null,
    };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}
