import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseJson } from '../../contracts/parse.ts';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface Receiver {
  /** The receiver's URL for `path`. */
  url(path: string): string;
  /** Every POST so far, in arrival order. */
  readonly received: Received[];
  bodiesAt(path: string): unknown[];
  /** Statuses `path` answers with, one per request, then 200 (or `then`) for ever. */
  answer(path: string, statuses: number[], then?: number): void;
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1, port 0: records each POST's JSON body and answers as told. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const plans = new Map<string, { statuses: number[]; then: number }>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const text = Buffer.concat(chunks).toString('utf8');
      const parsed = parseJson(text);
      received.push({ path, headers: req.headers, body: parsed.ok ? parsed.value : text });
      const plan = plans.get(path);
      const status = plan ? (plan.statuses.shift() ?? plan.then) : 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : `receiver says ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    bodiesAt: (path) => received.filter((r) => r.path === path).map((r) => r.body),
    answer(path, statuses, then = 200) {
      plans.set(path, { statuses: [...statuses], then });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
