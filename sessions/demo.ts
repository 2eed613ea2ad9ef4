import path from 'node:path';
import { DEFAULT_DEMO_DATE, PROJECT_ROOT, type Config, type Logger } from '../config/index.ts';
import { errorMessage } from '../contracts/index.ts';
import { openDb, pgliteDir } from '../db/index.ts';
import { createBroker, startPaperExchange } from '../execution/index.ts';
import { closeBackend, openCheckpointer, selectBackend, type BackendChoice } from '../graph/index.ts';
import { barCoverage, ingestPriceCsv, newYorkToUtc } from '../market/index.ts';
import { checkProposalDate, loadProposer, registerModel } from '../ml/index.ts';
import { companyMatcher, createEmbedder, importNews, searchNews } from '../rag/index.ts';
import { loadReportData, type ReportData } from './report-data.ts';
import { runSession } from './run.ts';

/** The demo session's New York time of day. */
export const DEMO_TIME = { hour: 12, minute: 30 } as const;
export const DEMO_PRICES = path.join(PROJECT_ROOT, 'data/samples/prices/DowJones30.csv');
export const DEMO_NEWS = path.join(PROJECT_ROOT, 'data/samples/news-reuters-1987');

export interface DemoOptions {
  config: Config;
  log: Logger;
  /**
   * YYYY-MM-DD, a trading day inside the stored bars (the bundled ones: 1991-03-14..2001-01-02); the
   * session runs at 12:30 New York time that day and its orders fill at that day's close.
   */
  date?: string;
  backend?: BackendChoice;
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
  const date = options.date ?? DEFAULT_DEMO_DATE;
  const asOf = newYorkToUtc(date, DEMO_TIME.hour, DEMO_TIME.minute);
  const db = await openDb(config);
  const database = db.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : `PGlite at ${pgliteDir(config)}`;
  say(`database: ${database}, migrated`);
  const closers: Array<() => Promise<void>> = [() => db.close()];
  try {
    if ((await barCoverage(db)).length === 0) {
      say('importing the bundled Dow 30 daily closes (1990-12-31..2001-01-02) ...');
      const res = await ingestPriceCsv(db, DEMO_PRICES);
      say(`  ${res.bars} bars of ${res.tickers.length} tickers`);
    }
    await checkProposalDate(db, date, { purpose: 'demo', field: 'date', label: '--date', at: DEMO_TIME });
    const embedder = await createEmbedder(config);
    const news = await db.query('SELECT count(*)::int AS n FROM news_items');
    if (Number(news.rows[0]?.n ?? 0) === 0) {
      say('importing the bundled Reuters news (1987; real, but not contemporary with the prices) ...');
      const res = await importNews(db, embedder, DEMO_NEWS, { matcher: companyMatcher(config.settings.news.companies), onProgress: options.onEmbedProgress });
      say(`  ${res.inserted} news items stored (${res.duplicates} duplicates)`);
    }

    const cardPath = path.resolve(PROJECT_ROOT, config.models.proposer.cardPath);
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
        now: () => asOf,
        checkpointer: checkpointer.saver,
        exchangeClock: exchange.exchange,
      },
      { asOf, kind: 'demo', slot: `demo ${date} 12:30 America/New_York`, onProgress: options.onProgress },
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
