import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/index.ts';
import { QuorumError } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import {
  BacktestReportList,
  EquityPoint,
  EvalReportList,
  LiveEvent,
  NewsItemView,
  ProposalDetail,
  ToolCallView,
  readBacktestReports,
  readEquityHistory,
  readEvalReports,
  readNewsItem,
  readProposalDetail,
  readToolCall,
  subscribeLive,
} from '../../sessions/index.ts';
import { ERROR_RESPONSES, apiError } from '../errors.ts';
import { named } from '../openapi.ts';
import { IdParam, jsonResponses, resourceApp } from './shared.ts';

/** Where the console's sources are (web/) and where `npm run build` writes its bundle (web/dist/). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const DIST_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const EquityHistory = z.object({ points: z.array(named('EquityPoint', EquityPoint)) }).openapi('EquityHistory');
const EquityQuery = z.object({ limit: z.coerce.number().int().min(2).max(5000).default(1000) });
const BacktestQuery = z.object({ limit: z.coerce.number().int().min(1).max(50).default(10) });
const LIVE_DESCRIPTION =
  'An SSE stream of the committee events of this server process (sessions and critiques): run_started, node_finished and run_finished, each a LiveEvent as data';

/** A GET /{id} route: the read model's row, or a 404 naming what was not found. */
function byId<S extends z.ZodType>(
  routePath: string,
  summary: string,
  name: string,
  schema: S,
  what: string,
  read: (id: string) => Promise<z.infer<S> | null>,
) {
  return [
    createRoute({ method: 'get', path: routePath, summary, request: { params: IdParam }, responses: jsonResponses(`The ${what}`, named(name, schema)) }),
    async (id: string) => {
      const row = await read(id);
      if (!row) throw new QuorumError('NOT_FOUND', `no ${what} ${id}`);
      return row;
    },
  ] as const;
}

/** GET /v1/console/…: the reads the web console needs beyond the other resources (read scope). */
export function consoleApiRoutes(db: Db, config: Pick<Config, 'dataDir' | 'settings'>) {
  const [proposalRoute, proposal] = byId(
    '/proposals/{id}',
    'A proposal with its attributions, debate, citations, verdict, risk rules, orders, fills and closes',
    'ProposalDetail',
    ProposalDetail,
    'proposal',
    (id) => readProposalDetail(db, id),
  );
  const [newsRoute, news] = byId('/news/{id}', 'A news item (by id or evidence id news:<id>)', 'NewsItem', NewsItemView, 'news item', (id) =>
    readNewsItem(db, id),
  );
  const [toolRoute, tool] = byId(
    '/tool-calls/{id}',
    'A tool call of a committee run (by id or evidence id tool:<id>) with the news it retrieved',
    'ToolCall',
    ToolCallView,
    'tool call',
    (id) => readToolCall(db, id),
  );
  const reportsDir = path.resolve(config.dataDir, config.settings.sessions.reportsDir);
  return resourceApp()
    .openapi(proposalRoute, async (c) => c.json(await proposal(c.req.valid('param').id), 200))
    .openapi(newsRoute, async (c) => c.json(await news(c.req.valid('param').id), 200))
    .openapi(toolRoute, async (c) => c.json(await tool(c.req.valid('param').id), 200))
    .openapi(
      createRoute({
        method: 'get',
        path: '/equity',
        summary: 'The equity history, oldest first',
        request: { query: EquityQuery },
        responses: jsonResponses('Equity readings', EquityHistory),
      }),
      async (c) => c.json({ points: await readEquityHistory(db, c.req.valid('query').limit) }, 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/evals',
        summary: 'The latest eval report of each backend (written by quorum eval into the data directory): the gate and the metrics per category',
        responses: jsonResponses('Eval reports', named('EvalReportList', EvalReportList)),
      }),
      (c) => c.json(readEvalReports(config.dataDir), 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/backtests',
        summary: "Backtest reports (written by quorum backtest into the reports folder), newest first: each strategy's equity curve and metrics",
        request: { query: BacktestQuery },
        responses: jsonResponses('Backtest reports', named('BacktestReportList', BacktestReportList)),
      }),
      (c) => c.json(readBacktestReports(reportsDir, c.req.valid('query').limit), 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/live',
        summary: "The committee's runs in this server as they happen (SSE)",
        responses: {
          200: {
            description: LIVE_DESCRIPTION,
            content: { 'text/event-stream': { schema: named('LiveEvent', LiveEvent).openapi({ description: LIVE_DESCRIPTION }) } },
          },
          ...ERROR_RESPONSES,
        },
      }),
      (c) =>
        streamSSE(c, async (stream) => {
          const queue: LiveEvent[] = [];
          let wake: (() => void) | null = null;
          const unsubscribe = subscribeLive((e) => {
            queue.push(e);
            wake?.();
          });
          stream.onAbort(() => {
            unsubscribe();
            wake?.();
          });
          await stream.writeSSE({ event: 'ready', data: '{}' });
          while (!stream.aborted) {
            const next = queue.shift();
            if (next) await stream.writeSSE({ event: next.event.type, data: JSON.stringify(next) });
            else await new Promise<void>((resolve) => (wake = resolve));
            wake = null;
          }
          unsubscribe();
        }),
    );
}

interface Asset {
  file: string;
  type: string;
}
const ASSETS: Record<string, Asset> = {
  '/': { file: `${WEB_DIR}index.html`, type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: `${DIST_DIR}app.js`, type: 'text/javascript; charset=utf-8' },
  '/console/app.css': { file: `${DIST_DIR}app.css`, type: 'text/css; charset=utf-8' },
};

/**
 * GET / and /console/*: the console's page and its bundle, without a token (they hold no data; the page
 * asks for a token and calls /v1 with it like any client). Read once at start; a missing bundle is a 503 naming the fix.
 */
export function consolePageRoutes() {
  const app = new Hono();
  for (const [route, asset] of Object.entries(ASSETS)) {
    const body = existsSync(asset.file) ? readFileSync(asset.file) : null;
    app.get(route, (c) => {
      if (!body) throw apiError(503, 'UNAVAILABLE', `the console is not built (${asset.file} is missing): run npm run build`);
      return c.body(body, 200, {
        'content-type': asset.type,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
      });
    });
  }
  return app;
}
