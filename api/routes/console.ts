import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { QuorumError } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import {
  EquityPoint,
  NewsItemView,
  ProposalDetail,
  ToolCallView,
  readEquityHistory,
  readNewsItem,
  readProposalDetail,
  readToolCall,
} from '../../sessions/index.ts';
import { apiError } from '../errors.ts';
import { named } from '../openapi.ts';
import { IdParam, jsonResponses, resourceApp } from './shared.ts';

/** Where the console's sources are (web/) and where `npm run build` writes its bundle (web/dist/). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const DIST_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const EquityHistory = z.object({ points: z.array(named('EquityPoint', EquityPoint)) }).openapi('EquityHistory');
const EquityQuery = z.object({ limit: z.coerce.number().int().min(2).max(5000).default(1000) });

/** GET /v1/console/…: the reads the web console needs beyond the other resources (read scope). */
export function consoleApiRoutes(db: Db) {
  return resourceApp()
    .openapi(
      createRoute({
        method: 'get',
        path: '/proposals/{id}',
        summary: 'A proposal with its attributions, debate, citations, verdict, risk rules, orders, fills and closes',
        request: { params: IdParam },
        responses: jsonResponses('The proposal in full', named('ProposalDetail', ProposalDetail)),
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const detail = await readProposalDetail(db, id);
        if (!detail) throw new QuorumError('NOT_FOUND', `no proposal ${id}`);
        return c.json(detail, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/news/{id}',
        summary: 'A news item (by id or evidence id news:<id>)',
        request: { params: IdParam },
        responses: jsonResponses('The news item', named('NewsItem', NewsItemView)),
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const item = await readNewsItem(db, id);
        if (!item) throw new QuorumError('NOT_FOUND', `no news item ${id}`);
        return c.json(item, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/tool-calls/{id}',
        summary: 'A tool call of a committee run (by id or evidence id tool:<id>) with the news it retrieved',
        request: { params: IdParam },
        responses: jsonResponses('The tool call', named('ToolCall', ToolCallView)),
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const call = await readToolCall(db, id);
        if (!call) throw new QuorumError('NOT_FOUND', `no tool call ${id}`);
        return c.json(call, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/equity',
        summary: 'The equity history, oldest first',
        request: { query: EquityQuery },
        responses: jsonResponses('Equity readings', EquityHistory),
      }),
      async (c) => c.json({ points: await readEquityHistory(db, c.req.valid('query').limit) }, 200),
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
