/** API throughput: autocannon against cached verdict reads and /healthz, server in its own process. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { z } from 'zod';
import { parseJson } from '../contracts/index.ts';
import type { Measurement } from './run.ts';

const DURATION_S = 8;
const CONNECTIONS = 32;
const Ready = z.object({ port: z.number(), token: z.string(), verdict: z.string() });

async function load(url: string, headers: Record<string, string>): Promise<autocannon.Result> {
  // Warm-up: caches, JIT.
  await autocannon({ url, headers, connections: CONNECTIONS, duration: 2 });
  return autocannon({ url, headers, connections: CONNECTIONS, duration: DURATION_S });
}

export default async function bench(): Promise<Measurement[]> {
  const root = path.resolve(import.meta.dirname, '..');
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'bench/support/api-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`api server exited ${code}`)));
    });
    const parsed = parseJson(line);
    if (!parsed.ok) throw new Error(parsed.error);
    const ready = Ready.parse(parsed.value);
    const base = `http://127.0.0.1:${ready.port}`;
    const verdict = await load(`${base}/v1/verdicts/${ready.verdict}`, { authorization: `Bearer ${ready.token}` });
    const health = await load(`${base}/healthz`, {});
    if (verdict.non2xx > 0 || verdict.errors > 0) throw new Error(`verdict reads failed: ${verdict.non2xx} non-2xx, ${verdict.errors} errors`);
    const note = `${CONNECTIONS} connections, ${DURATION_S} s, autocannon and server in separate processes on this machine`;
    return [
      {
        name: 'GET /v1/verdicts/:id (cached, bearer auth) req/s',
        value: verdict.requests.average,
        unit: 'req/s',
        budget: '> 2000',
        ok: verdict.requests.average > 2000,
        notes: note,
      },
      { name: 'GET /v1/verdicts/:id p99 latency', value: verdict.latency.p99, unit: 'ms' },
      { name: 'GET /healthz req/s', value: health.requests.average, unit: 'req/s', notes: note },
      { name: 'GET /healthz p99 latency', value: health.latency.p99, unit: 'ms' },
    ];
  } finally {
    child.kill('SIGTERM');
  }
}
