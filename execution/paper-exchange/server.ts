import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Db } from '../../db/index.ts';
import type { PaperExchangeSettings } from './engine.ts';
import { PaperExchange } from './engine.ts';
import { createPaperExchangeApp, type ExchangeFaults } from './app.ts';

export interface StartPaperExchangeOptions {
  db: Db;
  settings: PaperExchangeSettings;
  /** 0 picks a free ephemeral port. */
  port: number;
  host?: string;
  /** The simulated clock's start on first use (default: the last stored bar). */
  initialNow?: string;
  faults?: ExchangeFaults;
}

export interface RunningPaperExchange {
  /** Base URL, e.g. http://127.0.0.1:41234 (trading and data endpoints alike). */
  url: string;
  port: number;
  exchange: PaperExchange;
  close(): Promise<void>;
}

/** Starts the paper exchange over real HTTP (in-process); its state lives in `db` (paper_* tables). */
export async function startPaperExchange(options: StartPaperExchangeOptions): Promise<RunningPaperExchange> {
  const exchange = new PaperExchange(options.db, options.settings);
  await exchange.init(options.initialNow);
  const app = createPaperExchangeApp(exchange, { faults: options.faults });
  const host = options.host ?? '127.0.0.1';
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: host }, (info: AddressInfo) => resolve({ server: s, port: info.port }));
    s.once('error', reject);
  });
  return {
    url: `http://${host}:${port}`,
    port,
    exchange,
    close: () =>
      new Promise<void>((resolve, reject) => {
        if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function') server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
