import path from 'node:path';
import { PROJECT_ROOT, type Config, type Logger } from '../config/index.ts';
import { errorMessage } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { createBroker, httpExchangeClock } from '../execution/index.ts';
import { closeBackend, openCheckpointer, selectBackend, type BackendChoice } from '../graph/index.ts';
import { loadProposer } from '../ml/index.ts';
import { createEmbedder, searchNews } from '../rag/index.ts';
import type { SessionEnv } from './run.ts';

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
    const proposer = await loadProposer(path.resolve(PROJECT_ROOT, config.models.proposer.cardPath));
    closers.push(() => proposer.session.release());
    const backend = await selectBackend(config, options.backend);
    closers.push(() => closeBackend(backend.backend));
    const checkpointer = await openCheckpointer(db, { databaseUrl: config.secrets.databaseUrl });
    closers.push(() => checkpointer.close());
    let search: SessionEnv['searchNews'];
    try {
      const embedder = await createEmbedder(config);
      search = (q) => searchNews(db, embedder, q);
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
      now: options.now ?? (() => new Date().toISOString()),
      checkpointer: checkpointer.saver,
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
