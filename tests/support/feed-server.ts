import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One route of the feed server. */
export interface FeedRoute {
  body: string;
  contentType?: string;
  /** Send this ETag and answer 304 to a matching If-None-Match. */
  etag?: string;
  /** Send this Last-Modified and answer 304 to an equal If-Modified-Since. */
  lastModified?: string;
  /** Fault: answer 503 to the first N requests. */
  failFirst?: number;
  /** Fault: never answer (the client must time out). */
  hang?: boolean;
}

export interface FeedServer {
  baseUrl: string;
  url(path: string): string;
  /** Requests per path, and how many of them were answered 304. */
  hits(path: string): { total: number; notModified: number; conditional: number };
  /** Replace a route's content (e.g. a new item and a new ETag). */
  set(path: string, route: FeedRoute): void;
  close(): Promise<void>;
}

/** A real localhost HTTP server serving RSS/Atom documents with ETag / Last-Modified support. */
export async function startFeedServer(routes: Record<string, FeedRoute>): Promise<FeedServer> {
  const table = new Map(Object.entries(routes));
  const counts = new Map<string, { total: number; notModified: number; conditional: number }>();
  const hanging = new Set<ServerResponse>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const c = counts.get(path) ?? { total: 0, notModified: 0, conditional: 0 };
    counts.set(path, c);
    c.total++;
    const route = table.get(path);
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    if (route.hang) {
      hanging.add(res);
      return;
    }
    if (route.failFirst !== undefined && c.total <= route.failFirst) {
      res.writeHead(503).end('try later');
      return;
    }
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    if (inm || ims) c.conditional++;
    if ((route.etag && inm === route.etag) || (!route.etag && route.lastModified && ims === route.lastModified)) {
      c.notModified++;
      res.writeHead(304).end();
      return;
    }
    const headers: Record<string, string> = { 'content-type': route.contentType ?? 'application/rss+xml; charset=utf-8' };
    if (route.etag) headers.etag = route.etag;
    if (route.lastModified) headers['last-modified'] = route.lastModified;
    res.writeHead(200, headers).end(route.body);
  };
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    url: (p) => `${baseUrl}${p}`,
    hits: (p) => ({ ...(counts.get(p) ?? { total: 0, notModified: 0, conditional: 0 }) }),
    set: (p, route) => void table.set(p, route),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RssItemSpec {
  title: string;
  link: string;
  guid?: string;
  description: string;
  pubDate: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An RSS 2.0 document. */
export function rssDocument(title: string, items: readonly RssItemSpec[]): string {
  const body = items
    .map(
      (i) =>
        `<item><title>${esc(i.title)}</title><link>${esc(i.link)}</link>${i.guid ? `<guid isPermaLink="false">${esc(i.guid)}</guid>` : ''}` +
        `<description>${esc(i.description)}</description><pubDate>${i.pubDate}</pubDate></item>`,
    )
    .join('\n');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>${esc(title)}</title><link>http://example.com/</link>` +
    `<description>test feed</description>\n${body}\n</channel></rss>`
  );
}

export interface AtomEntrySpec {
  title: string;
  link: string;
  id: string;
  summary: string;
  updated: string;
}

/** An Atom 1.0 document. */
export function atomDocument(title: string, entries: readonly AtomEntrySpec[]): string {
  const body = entries
    .map(
      (e) =>
        `<entry><title>${esc(e.title)}</title><link href="${esc(e.link)}"/><id>${esc(e.id)}</id>` +
        `<updated>${e.updated}</updated><summary>${esc(e.summary)}</summary></entry>`,
    )
    .join('\n');
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>${esc(title)}</title>` +
    `<id>urn:test:${esc(title)}</id><updated>2024-03-01T00:00:00Z</updated>\n${body}\n</feed>`
  );
}
