import path from 'node:path';
import { PROJECT_ROOT, type Config, type Logger } from '../config/index.ts';
import { errorMessage } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { createBroker, httpExchangeClock } from '../execution/index.ts';
import { closeBackend, openCheckpointer, selectBackend, type BackendChoice } from '../graph/index.ts';
import { loadProposer, proposerCardPath } from '../ml/index.ts';
import { createAlpacaDataClient, ingestAlpacaBars } from '../market/index.ts';
import { companyMatcher, createEmbedder, pollFeeds, searchNews, type Embedder } from '../rag/index.ts';
import type { InputSources } from './refresh.ts';
import type { SessionEnv } from './run.ts';

/**
 * A live session's sources: the Alpaca data API when keys are set (settings market.alpacaDataUrl moves
 * it), the configured feeds when news search works.
 */
function inputSources(db: Db, config: Config, embedder: Embedder | null): InputSources {
  const { alpacaKeyId, alpacaSecretKey } = config.secrets;
  const { market, news, sessions } = config.settings;
  // One data client for the env's sessions.
  const client =
    alpacaKeyId && alpacaSecretKey
      ? createAlpacaDataClient({
          keyId: alpacaKeyId,
          secret: alpacaSecretKey,
          timeoutMs: sessions.refreshTimeoutMs,
          ...(market.alpacaDataUrl ? { baseUrls: { data: market.alpacaDataUrl } } : {}),
        })
      : null;
  const fetchBars: InputSources['fetchBars'] = client ? async (tickers, from, to) => (await ingestAlpacaBars(db, client, tickers, from, to)).bars : undefined;
  const matcher = companyMatcher(news.companies);
  const pollNews: InputSources['pollNews'] =
    embedder && news.feeds.length > 0
      ? async () => {
          const results = await pollFeeds(db, embedder, news.feeds, {
            matcher,
            timeoutMs: news.pollTimeoutMs,
            retries: news.retries,
            backoffMs: news.backoffMs,
          });
          return results.map((r) => ({ name: r.name, inserted: r.inserted, error: r.error }));
        }
      : undefined;
  return { fetchBars, pollNews, feeds: pollNews ? news.feeds.length : 0 };
}

export interface BuiltEnv {
  env: SessionEnv;
  close(): Promise<void>;
}

/**
 * Everything a session needs, from the configuration: the broker (local paper exchange or Alpaca),
 * the committee backend (auto: Ollama, else llama.cpp, else the rules baseline, announced), the
 * proposer, point-in-time news search and one checkpointer. `now` is the wall clock unless given.
 * With `exchangeClock`, sessions on the paper exchange set its simulated clock to their as-of (see
 * SessionEnv.exchangeClock).
 */
export async function buildSessionEnv(
  db: Db,
  config: Config,
  log: Logger,
  options: { backend?: BackendChoice; paperExchangeUrl?: string; now?: () => string; exchangeClock?: boolean } = {},
): Promise<BuiltEnv> {
  const closers: Array<() => Promise<void>> = [];
  try {
    // The production version of the configured model when the registry has one (a promoted retrain).
    const proposer = await loadProposer(await proposerCardPath(db, path.resolve(PROJECT_ROOT, config.models.proposer.cardPath)));
    closers.push(() => proposer.session.release());
    const backend = await selectBackend(config, options.backend);
    closers.push(() => closeBackend(backend.backend));
    const checkpointer = await openCheckpointer(db, { databaseUrl: config.secrets.databaseUrl });
    closers.push(() => checkpointer.close());
    let search: SessionEnv['searchNews'];
    let embedder: Embedder | null = null;
    try {
      const e = await createEmbedder(config);
      embedder = e;
      search = (q) => searchNews(db, e, q);
    } catch (error) {
      log.warn({ err: errorMessage(error) }, 'news search unavailable: agents get a typed tool error instead');
    }
    const broker = createBroker(config, { paperExchangeUrl: options.paperExchangeUrl });
    const exchangeUrl = options.paperExchangeUrl ?? `http://127.0.0.1:${config.settings.execution.paperExchange.port}`;
    const env: SessionEnv = {
      db,
      config,
      log,
      broker,
      ...(options.exchangeClock && broker.name === 'paper-exchange' ? { exchangeClock: httpExchangeClock(exchangeUrl) } : {}),
      backend,
      proposer,
      searchNews: search,
      ...(embedder ? { embedder } : {}),
      now: options.now ?? (() => new Date().toISOString()),
      checkpointer: checkpointer.saver,
      inputs: inputSources(db, config, embedder),
    };
    return {
      env,
      async close() {
        for (const c of closers.reverse()) await c().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    throw error;
  }
}
