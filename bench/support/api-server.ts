/**
 * A Quorum API process for the load benchmark: in-memory PGlite with one seeded audit chain and a
 * read token; prints `{"port":…,"token":…,"verdict":…}` on stdout when listening.
 */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApiToken, createApp } from '../../api/index.ts';
import { loadConfig } from '../../config/index.ts';
import { migrate, openPglite } from '../../db/index.ts';
import { CHAIN, seedChain } from '../../tests/support/seed-chain.ts';

const db = await openPglite(null);
await migrate(db);
await seedChain(db);
const { token } = await createApiToken(db, 'bench', 'read');
// The bench sends far more than the default 600 requests a minute from one token.
const config = loadConfig({ env: { QUORUM_SETTINGS__API__RATE_LIMIT_PER_MINUTE: '100000000' } });
const app = createApp({ db, config });
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => {
  const port = (server.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ port, token, verdict: CHAIN.verdict })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
