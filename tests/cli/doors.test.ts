/**
 * Every door, opened the way a user opens it: each command of README.md's command table and its
 * HTTP example, run as `node bin/quorum.js …` in its own process on fresh temp data dirs, with no
 * Ollama and no Alpaca keys (what the README says happens without them). The suites are
 * independent and run side by side; inside one, the steps follow the README's order on one data
 * dir. The last suite reads README.md and fails for any `quorum` command it names that is missing
 * from `quorum --help` or from COVERED below (a README command with no test is a defect).
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BUNDLED_CONFIG_DIR, PROJECT_ROOT, loadConfig } from '../../config/index.ts';
import { parseJson } from '../../contracts/index.ts';
import { parseBacktestResult } from '../../evals/backtest/schema.ts';
import { ruleAllows } from '../../ml/promotion.ts';
import { decodeTweetText } from '../../rag/tweets.ts';
import { loadScenarios } from '../../evals/index.ts';
import { EvalScorecards } from '../../evals/scorecards.ts';
import { registerApprovals } from '../../cli/commands/approvals.ts';
import { registerAudit } from '../../cli/commands/audit.ts';
import { registerBacktest } from '../../cli/commands/backtest.ts';
import { registerCritique } from '../../cli/commands/critique.ts';
import { registerDb } from '../../cli/commands/db.ts';
import { registerDemo } from '../../cli/commands/demo.ts';
import { registerDoctor } from '../../cli/commands/doctor.ts';
import { registerEval } from '../../cli/commands/eval.ts';
import { registerExecution } from '../../cli/commands/execution.ts';
import { registerIngestPrices } from '../../cli/commands/ingest-prices.ts';
import { registerNews } from '../../cli/commands/news.ts';
import { registerPropose } from '../../cli/commands/propose.ts';
import { registerServe } from '../../cli/commands/serve.ts';
import { registerRun } from '../../cli/commands/run.ts';
import { registerSession } from '../../cli/commands/session.ts';
import { registerSoak } from '../../cli/commands/soak.ts';
import { registerToken } from '../../cli/commands/token.ts';
import { registerTrain } from '../../cli/commands/train.ts';
import { registerModel } from '../../cli/commands/model.ts';
import { registerFeatures } from '../../cli/commands/features.ts';
import { createHash } from 'node:crypto';
import {
  ANSI_ESCAPE,
  cliEnv,
  freePort,
  jsonOf,
  limitConcurrentRuns,
  ranCommands,
  runQuorum,
  spawnQuorum,
  type CliRun,
  type LongRunning,
} from '../support/cli.ts';
import { tempConfigDir } from '../support/config-dir.ts';
import { hasPg, freshPostgres, type TestDb } from '../support/db.ts';
import { rssDocument, startFeedServer, type FeedServer } from '../support/feed-server.ts';
import { commandTree, readmeMentions, resolveMention, type CommandTree } from '../support/readme-commands.ts';

const README = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
const DOW30 = 'data/samples/prices/DowJones30.csv';
const MSFT = 'data/samples/prices/msft.csv';
const NOTICE =
  'NOTICE: no LLM reachable (Ollama unreachable at http://127.0.0.1:9, no llamaCpp.modelPath set): the deterministic rules baseline judges instead';

/**
 * The commands this file runs, each with where. README ⊆ COVERED ⊆ `quorum --help` is checked at the
 * end, and that each one was run here.
 */
const COVERED: Record<string, string> = {
  demo: 'quick start; data in (--universe stocknet)',
  doctor: 'without Ollama or keys',
  'db migrate': 'PostgreSQL; DB_LOCKED while serve runs on PGlite',
  'ingest prices': 'data in (OHLCV --ticker), PostgreSQL (wide CSV); alpaca without keys',
  'ingest news': 'data in (DIR, FEED_URL, JSONL with --skip-invalid); no argument without feeds',
  'news search': 'data in (point in time)',
  train: 'data in',
  propose: 'data in',
  'model drift': 'data in',
  'model list': 'data in (train promotes or refuses by the rule)',
  'model promote': 'data in (train promotes or refuses by the rule)',
  'features export': 'data in (the rows train used)',
  'model override': 'data in (and --revoke)',
  critique: 'data in',
  'session run': 'quick start (PGlite, in-process paper exchange); PostgreSQL (with paper-exchange and worker)',
  'session schedule': 'without Ollama or keys (--dry-run)',
  worker: 'PostgreSQL',
  run: 'PostgreSQL (scheduler, workers, exit monitor, API and paper exchange in one process)',
  serve: 'HTTP API on PGlite; on PostgreSQL',
  'approvals list': 'PostgreSQL (`approvals`, its default)',
  'approvals approve': 'PostgreSQL',
  'approvals reject': 'PostgreSQL',
  audit: 'quick start',
  'paper-exchange': 'data in; PostgreSQL',
  halt: 'quick start',
  resume: 'quick start',
  positions: 'quick start',
  orders: 'quick start',
  'token create': 'quick start (before serve); HTTP API (through the running serve); PostgreSQL',
  'token list': 'HTTP API (after serve stopped)',
  'token revoke': 'HTTP API (after serve stopped)',
  eval: 'without Ollama or keys',
  backtest: 'without Ollama or keys',
  soak: 'without Ollama or keys',
};
/** Covered only by the PostgreSQL suite (skipped without TEST_DATABASE_URL unless QUORUM_REQUIRE_PG=1). */
const PG_ONLY = new Set(['approvals approve', 'approvals reject']);
// Two cores: three commands at once keep them busy (one waits on disk or HTTP) without thrashing.
limitConcurrentRuns(3);
/** A step's budget, including the time its commands wait for a free slot. */
const STEP_TIMEOUT = 240_000;

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `quorum-doors-${prefix}-`));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** stdout and stderr of a run together (progress and notices go to stderr). */
const all = (r: CliRun): string => `${r.stdout}\n${r.stderr}`;
const ok = (r: CliRun): CliRun => {
  expect(r.code, `quorum ${r.args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
};

async function http(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; json: unknown }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  const parsed = parseJson(text);
  return { status: res.status, headers: res.headers, text, json: parsed.ok ? parsed.value : null };
}
const bearer = (token: string, extra: Record<string, string> = {}): Record<string, string> => ({ authorization: `Bearer ${token}`, ...extra });

/** serve's "quorum API on <url> (database: <kind>)" line. */
const LISTENING = /quorum API on (http:\/\/\S+) \(database: (\w+)\); OpenAPI at \S+\/openapi\.json/;

const OrderRow = z
  .object({ client_order_id: z.string(), ticker: z.string(), side: z.enum(['buy', 'sell']), intent_status: z.string(), filled_qty: z.number().nullable() })
  .passthrough();
const TokenRow = z.object({ id: z.string(), name: z.string(), scope: z.enum(['read', 'control']), revoked_at: z.string().nullable() }).strict();
const TokenCreated = z
  .object({ id: z.string(), token: z.string().regex(/^qrm_/), scope: z.enum(['read', 'control']), name: z.string(), via: z.string().nullable() })
  .strict();

/**
 * The README's HTTP example, as a user runs it: every line of its ```bash block except `quorum
 * serve` (the "second terminal", started by the test) through bash, with `npx quorum` being this
 * checkout's bin (its output also copied to stderr) and 8080 the test's port. Prints $TOKEN on stderr
 * last.
 */
function readmeHttpExample(): { serveArgs: string[]; script: string } {
  const block = [...README.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').find((b) => b.includes('/v1/critiques'));
  if (!block) throw new Error('README.md has no ```bash block with the /v1/critiques example');
  const lines = block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const serve = lines.find((l) => /^npx quorum serve\b/.test(l));
  if (!serve) throw new Error('the README example does not start `npx quorum serve`');
  const serveArgs = (serve.split('#')[0] ?? '').trim().split(/\s+/).slice(2);
  // `npx quorum` copies its output to stderr, so the test sees what the pipe consumed.
  const script = [
    'npx() { [ "$1" = quorum ] && shift; local out; out=$(node "$QUORUM_BIN" "$@") || return; printf "%s\\n" "$out" >&2; printf "%s\\n" "$out"; }',
    'set -e -o pipefail',
    ...lines.filter((l) => l !== serve),
    'printf "\\n%s\\n" "$TOKEN" >&2',
  ].join('\n');
  return { serveArgs, script };
}

const runBash = promisify(execFile);

describe('quick start, then the HTTP API, on one embedded PGlite data dir', { concurrent: true, timeout: STEP_TIMEOUT }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const q = (...args: string[]): Promise<CliRun> => runQuorum(args, env);
  let sessionId = '';
  let orders: z.infer<typeof OrderRow>[] = [];
  let printedOrderIds: string[] = [];
  let readToken = '';

  beforeAll(() => {
    dir = tempDir('quickstart');
    env = cliEnv(dir);
  });

  it.sequential(
    '`quorum demo` migrates, imports, runs one session with the rules baseline and writes the reports; run again it shows the stored session',
    async () => {
      // The first demo imports and embeds the bundled news: minutes on a busy 2-core machine.
      const first = ok(await runQuorum(['demo'], env, { timeoutMs: 220_000 }));
      expect(all(first)).toContain(`database: PGlite at ${path.join(dir, 'pglite')}, migrated`);
      expect(all(first)).toContain('75870 bars of 30 tickers');
      expect(all(first)).toContain(NOTICE);
      const id = /Quorum demo session (ses_[0-9a-f]+)\nas of 1999-06-01T16:30:00\.000Z/.exec(first.stdout)?.[1];
      expect(id, first.stdout).toBeDefined();
      sessionId = id ?? '';
      expect(first.stdout).toMatch(/\d+ proposals, the top \d+ judged, [1-9]\d* paper order\(s\)/);
      for (const ext of ['html', 'md']) expect(existsSync(path.join(dir, 'reports', `session-${sessionId}.${ext}`)), ext).toBe(true);
      // Each row says why risk did what it did: the committee for its own REJECT/ABSTAIN, the cap for a RESIZE.
      const rows = first.stdout.split('\n').filter((l) => /^│ [A-Z]+ +│ (buy|sell) /.test(l));
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        if (/│ (REJECT|ABSTAIN) +│/.test(row)) expect(row).toMatch(/│ DENY +│ 0\/0 +│ committee (REJECT|ABSTAIN) +│/);
        if (/│ RESIZE +│/.test(row)) expect(row).toMatch(/│ cut by [A-Z_]+(, [A-Z_]+)* +│/);
        expect(row).not.toContain('DECISION_ALLOWED');
      }
      // The ids to pass to `quorum audit`, one line per order.
      const listed = first.stdout.split('orders (trace one with quorum audit <id>):\n')[1] ?? '';
      printedOrderIds = [...listed.matchAll(/^ {2}[A-Z]+ +(\S+)$/gm)].map((m) => m[1] ?? '');
      expect(printedOrderIds.length).toBe(Number(/(\d+) paper order\(s\)/.exec(first.stdout)?.[1]));

      const again = z
        .object({ sessionId: z.string(), created: z.boolean(), notice: z.string() })
        .passthrough()
        .parse(jsonOf(await q('demo', '--json')));
      expect(again).toMatchObject({ sessionId, created: false, notice: NOTICE });
    },
  );

  it.sequential('`quorum orders`, `quorum audit ORDER_ID` and `quorum positions` show the demo orders, their chain and the book', async () => {
    orders = z.array(OrderRow).parse(jsonOf(await q('orders', '--json', '--status', 'filled')));
    expect(orders.length).toBeGreaterThan(0);
    expect(orders.every((o) => o.intent_status === 'filled' && (o.filled_qty ?? 0) > 0)).toBe(true);
    const first = orders[0];
    if (!first) throw new Error('no order');
    // Every entry is listed with its bracket's two legs (the target limit and the stop).
    const text = ok(await q('orders'));
    expect(text.stdout.match(/│ {3}└ target leg +│/g)?.length).toBe(orders.length);
    expect(text.stdout.match(/│ {3}└ stop leg +│/g)?.length).toBe(orders.length);
    // One process at a time on an embedded PGlite directory: these run one after another. The demo printed this id.
    const audit = ok(await q('audit', printedOrderIds[0] ?? ''));
    expect(audit.stdout).toContain('intent           q-');
    expect(audit.stdout).toMatch(/verdict {10}vd_\w+ (APPROVE|REDUCE) /);
    expect(audit.stdout).toMatch(/model {12}default@[0-9a-f]+ \(production/);
    expect(audit.stdout).toContain('every link present');
    const positions = ok(await q('positions'));
    expect(positions.stdout).toContain('trading ACTIVE');
    for (const o of orders) expect(positions.stdout).toContain(`│ ${o.ticker.padEnd(6)} │`);
  });

  it.sequential(
    '`quorum session run --as-of T` on PGlite runs the paper exchange in-process; `positions` agrees with the fills `orders` lists, legs included',
    async () => {
      const run = ok(await q('session', 'run', '--as-of', '1999-06-02T16:30:00Z'));
      expect(run.stderr).toMatch(/paper exchange: http:\/\/127\.0\.0\.1:\d+ \(in-process, on the embedded PGlite database\)/);
      // The notice once, as a plain line (the JSON log keeps to warnings).
      expect(run.stderr.split(NOTICE).length - 1).toBe(1);
      expect(run.stdout).toContain(`judged by: ${NOTICE}`);
      expect(run.stdout).toMatch(/session ses_[0-9a-f]+ as of 1999-06-02T16:30:00Z\n/);
      expect(run.stdout).toMatch(/\d+ proposals, the top \d+ judged, \d+ paper order\(s\)/);

      const Leg = z.object({ side: z.enum(['buy', 'sell']), status: z.string(), filled_qty: z.number() }).passthrough();
      const all = z.array(OrderRow.extend({ legs: z.array(Leg) })).parse(jsonOf(await q('orders', '--json', '--status', 'filled')));
      const net = new Map<string, number>();
      for (const o of all) {
        const sign = o.side === 'buy' ? 1 : -1;
        net.set(o.ticker, (net.get(o.ticker) ?? 0) + sign * (o.filled_qty ?? 0));
        for (const l of all.flatMap((x) => (x === o ? x.legs : []))) net.set(o.ticker, (net.get(o.ticker) ?? 0) + (l.side === 'buy' ? 1 : -1) * l.filled_qty);
      }
      const book = z
        .object({ positions: z.array(z.object({ ticker: z.string(), qty: z.number() }).passthrough()) })
        .passthrough()
        .parse(jsonOf(await q('positions', '--json')));
      const held = Object.fromEntries(book.positions.map((p) => [p.ticker, p.qty]));
      expect(held).toEqual(Object.fromEntries([...net].filter(([, qty]) => qty !== 0)));
    },
  );

  it.sequential('`quorum halt` / `quorum resume [--reducing]` switch the trading state, with the reason', async () => {
    expect(ok(await q('halt', '--reason', 'doors test')).stdout).toContain('trading HALTED (manual: doors test)');
    expect(ok(await q('resume', '--reason', 'reduce only', '--reducing')).stdout).toContain('trading REDUCING (manual: reduce only)');
    // (POST /v1/controls/resume below makes it ACTIVE again.)
  });

  it.sequential('`quorum token create` before the server starts prints the token once', async () => {
    const created = ok(await q('token', 'create', '--scope', 'read', '--name', 'before-serve'));
    const [token = '', note = ''] = created.stdout.split('\n');
    expect(token).toMatch(/^qrm_[\w-]{20,}$/);
    expect(note).toMatch(/^\(id tok_\w+, scope read; store it now: only its hash is kept\)$/);
    readToken = token;
  });

  it.sequential(
    '`quorum serve`: health, OpenAPI 3.1, `token create` through the running server, the curl example, 401 without a token, DB_LOCKED for a second opener, clean SIGTERM',
    async () => {
      const example = readmeHttpExample();
      const port = await freePort();
      const args = example.serveArgs.map((a) => (a === '8080' ? String(port) : a));
      expect(args).toEqual(['serve', '--port', String(port)]);
      const server: LongRunning = spawnQuorum(args, env);
      try {
        const [, url = '', kind] = await server.waitFor(LISTENING, { timeoutMs: 90_000 });
        expect(url).toBe(`http://127.0.0.1:${port}`);
        expect(kind).toBe('pglite');
        expect(server.stderr()).toContain(NOTICE);

        expect(await http(`${url}/healthz`)).toMatchObject({ status: 200, json: { status: 'ok' } });
        expect((await http(`${url}/readyz`)).status).toBe(200);
        // The web console: its page and bundle, without a token (its data comes from /v1 with one).
        const [consolePage, bundle] = await Promise.all([http(`${url}/`), http(`${url}/console/app.js`)]);
        expect(consolePage.status).toBe(200);
        expect(consolePage.headers.get('content-type')).toMatch(/^text\/html/);
        expect(consolePage.text).toContain('<script type="module" src="/console/app.js"></script>');
        expect(bundle.status).toBe(200);
        expect(bundle.text).toContain('/v1/console/proposals/');
        const openapi = await http(`${url}/openapi.json`);
        const doc = z
          .object({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) })
          .passthrough()
          .parse(openapi.json);
        expect(doc.openapi).toMatch(/^3\.1\./);
        expect(Object.keys(doc.paths)).toEqual(
          expect.arrayContaining([
            '/v1/critiques',
            '/v1/critiques/{id}',
            '/v1/verdicts/{id}',
            '/v1/sessions',
            '/v1/portfolio',
            '/v1/approvals',
            '/v1/controls/halt',
          ]),
        );

        // The owner of the embedded database: the lock names serve; serve.json (0600) tells local tools where it is.
        const lock = z
          .object({ pid: z.number(), command: z.string() })
          .passthrough()
          .parse(parseJsonOrThrow(readFileSync(path.join(dir, 'pglite.lock'), 'utf8')));
        expect(lock).toMatchObject({ pid: server.pid, command: `quorum ${args.join(' ')}` });
        expect(statSync(path.join(dir, 'serve.json')).mode & 0o777).toBe(0o600);

        // While it runs: the README example (token create + curl), and a second opener.
        const [readme, locked] = await Promise.all([
          runBash('bash', ['-c', example.script.replaceAll('8080', String(port))], {
            cwd: PROJECT_ROOT,
            env: { ...env, QUORUM_BIN: path.join(PROJECT_ROOT, 'bin/quorum.js') },
            timeout: 120_000,
            maxBuffer: 16 * 1024 * 1024,
          }),
          q('db', 'migrate'),
        ]);
        const controlToken = readme.stderr.trim().split('\n').pop() ?? '';
        const created = TokenCreated.parse(parseJsonOrThrow(readme.stderr.slice(0, readme.stderr.lastIndexOf('}') + 1)));
        expect(created).toMatchObject({ token: controlToken, scope: 'control' });
        expect(created.via).toBe(`created through quorum serve (pid ${server.pid}, ${url}), which owns the embedded database`);
        const critique = z
          .object({
            critiqueId: z.string(),
            backend: z.literal('rules'),
            notice: z.literal(NOTICE),
            verdict: z.object({ id: z.string(), decision: z.enum(['APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN']) }).passthrough(),
          })
          .passthrough()
          .parse(parseJsonOrThrow(readme.stdout));

        expect(locked.code).toBe(1);
        expect(locked.stderr).toContain(
          `quorum: DB_LOCKED: the embedded database at ${path.join(dir, 'pglite')} is in use by pid ${server.pid} (quorum ${args.join(' ')}, since `,
        );
        expect(locked.stderr).toContain('point every process at one PostgreSQL database (DATABASE_URL)');

        // Authentication: no token or a wrong one gets 401; both tokens (made before and during serve) work.
        const anonymous = await http(`${url}/v1/critiques`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ticker: 'DIS', asOf: '1999-06-01' }),
        });
        expect(anonymous.status).toBe(401);
        expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
        expect(anonymous.json).toMatchObject({ error: 'UNAUTHORIZED' });
        expect((await http(`${url}/v1/portfolio`, { headers: bearer('qrm_not-a-token') })).status).toBe(401);
        expect((await http(`${url}/metrics`)).status).toBe(401);

        for (const token of [readToken, controlToken]) {
          expect((await http(`${url}/v1/portfolio`, { headers: bearer(token) })).status, token).toBe(200);
        }
        // Every read route of the README's table answers a read token.
        const reads = [
          `/v1/critiques/${critique.critiqueId}`,
          `/v1/verdicts/${critique.verdict.id}`,
          '/v1/sessions',
          `/v1/sessions/${sessionId}`,
          `/v1/audit/orders/${orders[0]?.client_order_id ?? ''}`,
          '/v1/approvals',
          '/metrics',
        ];
        for (const route of reads) expect((await http(`${url}${route}`, { headers: bearer(readToken) })).status, route).toBe(200);
        expect((await http(`${url}/v1/sessions`, { headers: bearer(readToken) })).text).toContain(sessionId);

        // A bad body names the field; control routes need a control token.
        const bad = await http(`${url}/v1/critiques`, {
          method: 'POST',
          headers: bearer(readToken, { 'content-type': 'application/json' }),
          body: JSON.stringify({ ticker: 'DIS', asOf: 'yesterday' }),
        });
        expect(bad.status).toBe(400);
        expect(JSON.stringify(bad.json)).toContain('body.asOf');
        const halt = (token: string): Promise<{ status: number; json: unknown }> =>
          http(`${url}/v1/controls/halt`, {
            method: 'POST',
            headers: bearer(token, { 'content-type': 'application/json' }),
            body: JSON.stringify({ reason: 'doors' }),
          });
        expect((await halt(readToken)).status).toBe(403);
        expect(await halt(controlToken)).toMatchObject({ status: 200, json: { state: 'HALTED' } });
        const resume = await http(`${url}/v1/controls/resume`, {
          method: 'POST',
          headers: bearer(controlToken, { 'content-type': 'application/json' }),
          body: JSON.stringify({ reason: 'doors done' }),
        });
        expect(resume).toMatchObject({ status: 200, json: { state: 'ACTIVE' } });

        // The streamed variant of the README's POST /v1/critiques.
        const stream = await http(`${url}/v1/critiques`, {
          method: 'POST',
          headers: bearer(readToken, { 'content-type': 'application/json', accept: 'text/event-stream' }),
          body: JSON.stringify({ ticker: 'DIS', asOf: '1999-06-01' }),
        });
        expect(stream.status).toBe(200);
        for (const event of ['run_started', 'node_finished', 'verdict']) expect(stream.text).toContain(`event: ${event}`);
      } finally {
        const end = await server.stop('SIGTERM');
        expect(end, server.stderr()).toEqual({ code: 0, signal: null });
      }
      expect(existsSync(path.join(dir, 'pglite.lock'))).toBe(false);
      expect(existsSync(path.join(dir, 'serve.json'))).toBe(false);
    },
  );

  it.sequential('after serve stopped: `quorum token list` shows both tokens without their values; `quorum token revoke ID` revokes one', async () => {
    const listed = ok(await q('token', 'list'));
    expect(listed.stdout).not.toContain('qrm_');
    const tokens = z.array(TokenRow.passthrough()).parse(parseJsonOrThrow(listed.stdout));
    expect(tokens.map((t) => [t.name, t.scope, t.revoked_at])).toEqual([
      ['before-serve', 'read', null],
      ['cli', 'control', null],
    ]);
    const id = tokens[0]?.id ?? '';
    const revoked = ok(await q('token', 'revoke', id));
    expect(revoked.stdout).toBe(`revoked ${id}\n`);
  });
});

describe('data in, a model, a judgement: ingest, news search, train, propose, critique, paper-exchange', { concurrent: true, timeout: STEP_TIMEOUT }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let feeds: FeedServer;
  const q = (...args: string[]): Promise<CliRun> => runQuorum(args, env);
  let searchText: CliRun | null = null;

  beforeAll(async () => {
    dir = tempDir('data');
    env = cliEnv(dir);
    feeds = await startFeedServer({
      '/wire.xml': {
        body: rssDocument('Wire', [
          {
            title: 'Disney park attendance rises',
            link: 'https://wire.example.com/dis-parks',
            guid: 'w-1',
            description: 'Walt Disney Co said attendance rose.',
            pubDate: 'Tue, 01 Jun 1999 13:00:00 GMT',
          },
          {
            title: 'IBM wins services contract',
            link: 'https://wire.example.com/ibm-contract',
            guid: 'w-2',
            description: 'IBM signed a services contract.',
            pubDate: 'Tue, 01 Jun 1999 14:00:00 GMT',
          },
        ]),
      },
    });
  });
  const pgs: Array<TestDb | null> = [];
  afterAll(async () => {
    await feeds.close();
    for (const pg of pgs) await pg?.cleanup();
  });

  it.sequential('`quorum ingest prices FILE --ticker T` loads an OHLCV file (the wide Dow 30 file: demo, PostgreSQL)', async () => {
    const msft = ok(await q('ingest', 'prices', 'data/samples/prices/msft.csv', '--ticker', 'MSFT'));
    expect(msft.stdout).toMatch(/│ data\/samples\/prices\/msft\.csv │ ohlcv │ MSFT +│ 249 +│ 2000-09-27 │ 2001-09-27 │/);
  });

  it.sequential('`quorum ingest news DIR|FEED_URL|FILE [--skip-invalid]`', async () => {
    const jsonl = path.join(dir, 'news.jsonl');
    writeFileSync(
      jsonl,
      [
        JSON.stringify({
          published_at: '1999-05-28T15:00:00Z',
          title: 'Alcoa raises aluminum prices',
          body: 'Alcoa said it would raise prices.',
          url: 'https://news.example.com/aa-prices',
          tickers: ['AA'],
          source: 'doors',
        }),
        JSON.stringify({ title: 'no date', url: 'https://news.example.com/undated' }),
      ].join('\n'),
    );
    const dirRun = ok(await q('ingest', 'news', 'data/samples/news-reuters-1987/crude'));
    expect(dirRun.stdout).toContain('20 file(s), 20 item(s) read: 20 new, 0 already stored, 0 rejected');
    const feedRun = ok(await q('ingest', 'news', feeds.url('/wire.xml')));
    expect(feedRun.stdout).toMatch(/│ 127\.0\.0\.1:\d+ +│ ok +│ 2 +│ 2 +│ 0 +│ 1 +│/);
    expect(feedRun.stdout).toContain('2 new item(s) from 1 feed(s)');
    // One bad line: nothing stored, the line named, exit 2; with --skip-invalid the good line is stored.
    const strict = await q('ingest', 'news', jsonl);
    expect(strict.code, all(strict)).toBe(2);
    expect(strict.stderr).toContain(`${jsonl}:2: published_at: missing`);
    const lenient = ok(await q('ingest', 'news', jsonl, '--skip-invalid'));
    expect(lenient.stdout).toContain('1 file(s), 2 item(s) read: 1 new, 0 already stored, 1 rejected');
    expect(lenient.stdout).toContain(`rejected ${jsonl}:2: published_at: missing (every item needs a publication date)`);
  });

  it.sequential('`quorum news search "Q" --as-of D [--ticker T] [-k N]` sees only what was published by D', async () => {
    const Result = z.object({ results: z.array(z.object({ title: z.string(), publishedAt: z.string() }).passthrough()) }).passthrough();
    const early = Result.parse(jsonOf(await q('news', 'search', 'crude oil prices', '--as-of', '1987-03-01', '-k', '50', '--json'))).results;
    expect(early.length).toBeGreaterThan(0);
    expect(early.every((r) => r.publishedAt <= '1987-03-01T00:00:00.000Z')).toBe(true);
    expect(early.length).toBeLessThan(20);
    // Best score first (MMR picks which items; they are listed by score).
    const scores = early.map((r) => z.number().parse(r.score));
    expect(scores.length).toBeGreaterThan(1);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // As a user runs it from a terminal emulator (TERM set), with the output going to a pipe.
    const text = ok(await runQuorum(['news', 'search', 'prices', '--as-of', '1999-06-01T13:30:00Z', '--ticker', 'AA'], { ...env, TERM: 'xterm-256color' }));
    searchText = text;
    expect(text.stdout).toContain('Alcoa raises aluminum prices');

    // Tagged with another ticker, or (the IBM feed item at 14:00) published after --as-of: not found.
    for (const title of ['Disney park attendance rises', 'IBM wins services contract']) expect(text.stdout).not.toContain(title);
  });

  // cli-table3 would colour a table on a pipe: the CLI's tables take their style from cli/table.ts.
  it.sequential('`quorum news search` prints no colour codes into a pipe', () => {
    expect(searchText?.stdout.includes(ANSI_ESCAPE)).toBe(false);
  });

  it.sequential('`quorum train`, `quorum propose --as-of D [--tickers L]` and `quorum critique --ticker T --as-of D`', async () => {
    const out = path.join(dir, 'model');
    const trained = await q('train', '--model-id', 'doors', '--out', out, '--tickers', 'MSFT', '--features', 'all', '--trees', '20', '--folds', '2', '--json');
    const { card, promotion } = z
      .object({
        card: z.object({ modelId: z.literal('doors'), version: z.string(), onnxFile: z.string() }).passthrough(),
        promotion: z.object({ modelId: z.string(), candidateVersion: z.string(), decision: z.string(), actor: z.string() }).passthrough(),
      })
      .parse(jsonOf(trained));
    // The first version of a model id: promoted, as the JSON's decision says.
    expect(promotion).toMatchObject({ modelId: 'doors', candidateVersion: card.version, decision: 'promoted', actor: 'train' });
    expect(existsSync(path.join(out, 'model-card.json'))).toBe(true);
    expect(existsSync(path.join(out, card.onnxFile))).toBe(true);

    const proposed = ok(await q('propose', '--as-of', '2001-06-01', '--tickers', 'MSFT'));
    expect(proposed.stdout).toMatch(/│ MSFT +│ (buy|sell) +│ 0\.\d{3} │/);
    expect(proposed.stdout).toMatch(/1 proposal\(s\) at 2001-06-01T20:00:00\.000Z by default@[0-9a-f]+, feature snapshot fs_\w+/);

    const drift = ok(await q('model', 'drift', '--as-of', '2001-06-01', '--tickers', 'MSFT'));
    expect(drift.stdout).toMatch(/│ rsi14 +│ \d+\.\d{3} │ \d\.\d{3} │/);
    expect(drift.stdout).toMatch(/model default@[0-9a-f]+ at 2001-06-01T20:00:00\.000Z: \d+ recent rows .* vs 500 training rows/);
    expect(drift.stdout).toMatch(/^health score \d\.\d{3} \(threshold 0\.5\): (healthy|UNHEALTHY: .+)$/m);
    const override = ok(await q('model', 'override', '--reason', 'doors test', '--by', 'doors'));
    expect(override.stdout).toMatch(/^model default@[0-9a-f]+ overridden by cli:doors at \S+: doors test \(mo_[0-9a-f]+\)$/m);
    expect(ok(await q('model', 'override', '--reason', 'done', '--revoke')).stdout).toMatch(
      /^override mo_[0-9a-f]+ of model default@[0-9a-f]+ revoked by cli:/m,
    );

    const critiqued = ok(await q('critique', '--ticker', 'MSFT', '--as-of', '2001-06-01', '--backend', 'rules'));
    expect(critiqued.stdout).toContain('PROPOSAL');
    expect(critiqued.stdout).toContain('[bull round 1]');
    expect(critiqued.stdout).toMatch(/VERDICT: (APPROVE|REDUCE|REJECT|ABSTAIN) size x\d\.\d\d \(confidence \d\.\d\d\) by rules\/rules-baseline\.v1/);

    // Your own idea, with Ollama asked for by name but not running: the header says so before the verdict.
    const idea = ok(await q('critique', '--ticker', 'MSFT', '--as-of', '2001-06-01', '--side', 'sell', '--probability', '0.35', '--backend', 'ollama'));
    expect(idea.stdout).toMatch(
      /^PROPOSAL prop_\w+: sell MSFT at 2001-06-01T20:00:00\.000Z, p=0\.350, .*\(your idea, features and attributions from default@[0-9a-f]+\)$/m,
    );
    expect(idea.stdout).toContain(
      'judged by: WARNING: Ollama unreachable at http://127.0.0.1:9 (backend ollama as requested): every agent call fails, so every verdict is ABSTAIN (no trade)',
    );
    expect(idea.stdout).toMatch(/^the committee ABSTAINS: LLM_UNAVAILABLE/m);
    expect(idea.stdout).toContain('VERDICT: ABSTAIN size x0.00');
    const orphan = await q('critique', '--ticker', 'MSFT', '--as-of', '2001-06-01', '--probability', '0.35');
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toContain('--probability needs --side');
  });

  it.sequential(
    '`quorum train` promotes or refuses by settings retrain.promotion, audited; `quorum model list`, `model promote ID@V`, `features export` (the rows train used)',
    async () => {
      const Card = z
        .object({
          modelId: z.literal('gov'),
          version: z.string(),
          featureSnapshotId: z.string(),
          metrics: z.object({ folds: z.array(z.object({ testStart: z.string(), metrics: z.object({ logLoss: z.number() }).passthrough() }).passthrough()) }),
        })
        .passthrough();
      // Ten commands on one database: PostgreSQL when there is one (a PGlite start per process is slow), else this data dir's PGlite.
      const pg = hasPg ? await freshPostgres() : null;
      pgs.push(pg);
      const genv = pg?.url ? { ...env, DATABASE_URL: pg.url } : env;
      const q = (...args: string[]): Promise<CliRun> => runQuorum(args, genv);
      if (pg) ok(await q('ingest', 'prices', MSFT, '--ticker', 'MSFT'));
      const train = async (trees: string, maxWorsening: string) => {
        const run = await runQuorum(
          ['train', '--model-id', 'gov', '--tickers', 'MSFT', '--folds', '2', '--trees', trees, '--out', path.join(dir, `gov-${trees}`), '--json'],
          { ...genv, QUORUM_SETTINGS__RETRAIN__PROMOTION__MAX_WORSENING: maxWorsening },
        );
        const out = z
          .object({ card: Card, promotion: z.object({ decision: z.enum(['promoted', 'refused']), reason: z.string() }).passthrough() })
          .parse(jsonOf(run));
        return { card: out.card, promotion: out.promotion, stderr: run.stderr };
      };
      const a = await train('10', '0');
      expect(a.stderr).toContain(`model gov@${a.card.version} promoted to production: no production version of gov`);
      expect(a.promotion).toMatchObject({ decision: 'promoted', reason: 'no production version of gov' });
      // A rule no model can meet (a log loss lower by 1): refused, stays in staging.
      const b = await train('30', '-1');
      expect(b.stderr).toMatch(new RegExp(`model gov@${b.card.version} stays in staging \\(refused\\): worse by the rule \\(logLoss`));
      expect(b.promotion.decision).toBe('refused');
      expect(b.stderr).toContain(b.promotion.reason);
      // A rule any model meets: promoted, the previous production version archived.
      const c = await train('5', '1');
      expect(c.stderr).toContain(`model gov@${c.card.version} promoted to production: not worse by the rule (logLoss`);

      const Listed = z.object({
        models: z.array(z.object({ id: z.string(), version: z.string(), stage: z.string() }).passthrough()),
        promotions: z.array(
          z
            .object({
              candidateVersion: z.string(),
              productionVersion: z.string().nullable(),
              decision: z.string(),
              actor: z.string(),
              who: z.string(),
              reason: z.string(),
              rule: z.record(z.string(), z.unknown()),
              metrics: z
                .object({
                  candidate: z.object({ logLoss: z.number() }).passthrough(),
                  production: z.object({ logLoss: z.number() }).passthrough(),
                  worsening: z.number(),
                })
                .partial(),
            })
            .passthrough(),
        ),
      });
      const list = async () => Listed.parse(jsonOf(await q('model', 'list', '--model-id', 'gov', '--json')));
      const listed = await list();
      const stage = (v: string) => listed.models.find((m) => m.version === v)?.stage;
      expect([stage(a.card.version), stage(b.card.version), stage(c.card.version)]).toEqual(['archived', 'staging', 'production']);
      expect(listed.promotions.map((d) => [d.decision, d.actor, d.candidateVersion, d.productionVersion])).toEqual([
        ['promoted', 'train', c.card.version, a.card.version],
        ['refused', 'train', b.card.version, a.card.version],
        ['promoted', 'train', a.card.version, null],
      ]);
      const refused = listed.promotions[1];
      expect(refused?.rule).toEqual({ metric: 'logLoss', maxWorsening: -1 });
      expect(refused?.who).toMatch(/.+@.+/);
      // Both judged on the candidate's latest fold: production's recipe retrained there scores exactly what its own card reported.
      expect(refused?.metrics.production?.logLoss).toBe(a.card.metrics.folds.at(-1)?.metrics.logLoss);
      expect(refused?.metrics.candidate?.logLoss).toBe(b.card.metrics.folds.at(-1)?.metrics.logLoss);
      expect(refused?.metrics.worsening).toBeCloseTo((refused?.metrics.candidate?.logLoss ?? 0) - (refused?.metrics.production?.logLoss ?? 0), 12);
      const table = ok(await q('model', 'list'));
      expect(table.stdout).toMatch(/│ gov +│ [0-9a-f]{12} │ production │/);
      expect(table.stdout).toContain('promotion decisions, newest first:');

      // By hand: the refused version goes to production, audited with the reason.
      const promoted = ok(await q('model', 'promote', `gov@${b.card.version}`, '--reason', 'reviewed the fold by hand'));
      expect(promoted.stdout).toMatch(
        new RegExp(`model gov@${b.card.version} promoted to production \\(${c.card.version} archived\\) by .+@.+: reviewed the fold by hand`),
      );
      const after = await list();
      expect(after.models.find((m) => m.stage === 'production')?.version).toBe(b.card.version);
      expect(after.promotions[0]).toMatchObject({ decision: 'promoted', actor: 'manual', reason: 'reviewed the fold by hand' });
      const unknown = await q('model', 'promote', 'gov@000000000000');
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('model gov@000000000000 is not registered');

      // The exported matrix is the one train used: its rows hash to the card's training snapshot id.
      const csv = path.join(dir, 'matrix.csv');
      ok(await q('features', 'export', '--tickers', 'MSFT', '--out', csv));
      const [comment = '', header = '', ...rows] = readFileSync(csv, 'utf8').trimEnd().split('\n');
      expect(comment).toMatch(/^# feature_set=technical@\S+ label=forward_return>0 horizon_days=5 as_of=all rows=\d+$/);
      const cols = header.split(',');
      expect([cols[0], cols[1], cols.at(-2), cols.at(-1)]).toEqual(['date', 'ticker', 'forward_return', 'label']);
      const digest = createHash('sha256');
      for (const r of rows) {
        const v = r.split(',');
        digest.update(`${v[1]},${v[0]},${v.slice(2, -2).join(',')},${v.at(-1)}\n`);
      }
      expect(`fs_train_${digest.digest('hex').slice(0, 20)}`).toBe(a.card.featureSnapshotId);
      const tail = path.join(dir, 'matrix-tail.csv');
      ok(await q('features', 'export', '--tickers', 'MSFT', '--from', '2001-06-01', '--out', tail));
      const tailRows = readFileSync(tail, 'utf8').trimEnd().split('\n').slice(2);
      expect(tailRows.length).toBeGreaterThan(0);
      expect(tailRows).toEqual(rows.filter((r) => r.slice(0, 10) >= '2001-06-01'));
      const backwards = await q('features', 'export', '--from', '2001-06-01', '--to', '2001-01-02', '--out', tail);
      expect(backwards.code).toBe(2);
      expect(backwards.stderr).toContain('from: --from is after --to');
    },
  );

  it.sequential('`quorum paper-exchange --port P --now T` answers Alpaca-style on its own and stops cleanly', async () => {
    const exchange = spawnQuorum(['paper-exchange', '--port', '0', '--now', '2001-06-01T16:30:00Z', '--json'], env);
    try {
      await exchange.waitFor(/"now": "2001-06-01T16:30:00\.000Z"\s*}/, { stream: 'stdout', timeoutMs: 60_000 });
      const address = z.object({ url: z.string() }).passthrough().parse(parseJsonOrThrow(exchange.stdout()));
      expect(await http(`${address.url}/v2/clock`)).toMatchObject({ status: 200, json: { timestamp: '2001-06-01T16:30:00.000Z', is_open: true } });
      expect(await http(`${address.url}/v2/account`)).toMatchObject({ status: 200, json: { status: 'ACTIVE', cash: '100000' } });
    } finally {
      expect(await exchange.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    }
    expect(existsSync(path.join(dir, 'pglite.lock'))).toBe(false);
  });

  it.sequential('`quorum demo --universe stocknet` runs a 2014 session whose debate cites real tweets published before its as-of, never after', async () => {
    // 6 hours of tweets before the as-of (and the 6 after it, which must stay unseen): cheap to embed.
    const run = ok(await q('demo', '--universe', 'stocknet', '--news-days', '0.25'));
    expect(all(run)).toContain(`database: PGlite at ${path.join(dir, 'stocknet', 'pglite')}, migrated`);
    expect(all(run)).toContain('15120 bars of 30 tickers');
    expect(all(run)).toMatch(/proposer: stocknet-2014@/);
    const asOf = /as of (2014-04-24T16:30:00\.000Z) · /.exec(run.stdout)?.[1] ?? '';
    expect(asOf, run.stdout).not.toBe('');
    const cited = [...run.stdout.matchAll(/^ {2}([A-Z]+) (news:[0-9a-f]{12}) (\S+) (.+)$/gm)].map((m) => ({
      ticker: m[1] ?? '',
      time: m[3] ?? '',
      title: m[4] ?? '',
    }));
    expect(Number(/cited news \((\d+)\)/.exec(run.stdout)?.[1])).toBe(cited.length);
    expect(cited.length).toBeGreaterThan(0);
    // Each cited item is a real bundled tweet with that time, published before the as-of; later tweets were stored too.
    const tweets = gunzipSync(readFileSync(path.join(PROJECT_ROOT, 'data/samples/stocknet-2014/tweets.jsonl.gz')))
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => z.object({ published_at: z.string(), text: z.string() }).passthrough().parse(parseJsonOrThrow(l)));
    for (const c of cited) {
      expect(Date.parse(c.time)).toBeLessThanOrEqual(Date.parse(asOf));
      const source = tweets.find(
        (t) => Date.parse(t.published_at) === Date.parse(c.time) && decodeTweetText(t.text).replace(/\s+/g, ' ').startsWith(c.title.slice(0, 60)),
      );
      expect(source, `${c.time} ${c.title}`).toBeDefined();
    }
    const stored = /(\d+) tweets stored \(\d+ already stored\) from \S+ to (\S+)/.exec(all(run));
    expect(Date.parse(stored?.[2] ?? '')).toBeGreaterThan(Date.parse(asOf));
    expect(tweets.some((t) => t.published_at > asOf && Date.parse(t.published_at) <= Date.parse(stored?.[2] ?? ''))).toBe(true);
    // 2013 is the proposer's training window and has no tweets: refused, naming the field.
    const inSample = await q('demo', '--universe', 'stocknet', '--date', '2013-06-03');
    expect(inSample.code).toBe(2);
    expect(inSample.stderr).toContain('--date: 2013-06-03 is outside 2014');
  });
});

describe(
  'PostgreSQL: paper-exchange, worker and serve side by side; session run; approvals; token create while serve runs',
  { concurrent: true, skip: !hasPg, timeout: STEP_TIMEOUT },
  () => {
    let pg: TestDb;
    let env: NodeJS.ProcessEnv;
    const q = (...args: string[]): Promise<CliRun> => runQuorum(args, env);
    const running: LongRunning[] = [];
    let serveUrl = '';
    let pending: string[] = [];

    beforeAll(async () => {
      pg = await freshPostgres({ migrate: false });
      env = cliEnv(tempDir('pg'), { DATABASE_URL: pg.url ?? '', QUORUM_SETTINGS__EXECUTION__REQUIRE_APPROVAL: 'true' });
    });
    afterAll(async () => {
      await Promise.all(running.map((p) => p.stop('SIGKILL')));
      await pg.cleanup();
    });

    it.sequential('`quorum db migrate` and `quorum ingest prices` on DATABASE_URL', async () => {
      expect(ok(await q('db', 'migrate')).stdout).toMatch(/^PostgreSQL \(DATABASE_URL\): [1-9]\d* applied, 0 already applied$/m);
      expect(ok(await q('ingest', 'prices', DOW30)).stdout).toContain('│ 75870 │');
    });

    it.sequential('`quorum paper-exchange`, `quorum worker` and `quorum serve` run at once on one database', async () => {
      const exchange = spawnQuorum(['paper-exchange', '--port', '0', '--json'], env);
      running.push(exchange);
      const [, port = ''] = await exchange.waitFor(/"url": "http:\/\/127\.0\.0\.1:(\d+)"/, { stream: 'stdout', timeoutMs: 60_000 });
      // Every later process sends its orders to this exchange.
      env = { ...env, QUORUM_SETTINGS__EXECUTION__PAPER_EXCHANGE__PORT: port };
      const worker = spawnQuorum(['worker', '--concurrency', '2'], env);
      const serve = spawnQuorum(['serve', '--port', String(await freePort())], env);
      running.push(worker, serve);
      await worker.waitFor(/worker judging up to 2 proposal\(s\) at once/, { timeoutMs: 60_000 });
      const [, url = '', kind] = await serve.waitFor(LISTENING, { timeoutMs: 60_000 });
      expect(kind).toBe('postgres');
      serveUrl = url;
    });

    it.sequential('`quorum session run --as-of T` stops before orders for approval; `quorum approvals` lists them', async () => {
      const run = ok(await q('session', 'run', '--as-of', '1999-06-01T16:30:00Z', '--backend', 'rules'));
      expect(run.stdout).toMatch(/^session ses_[0-9a-f]+ as of 1999-06-01T16:30:00Z$/m);
      expect(run.stdout).toMatch(/^report: .*session-ses_[0-9a-f]+\.html$/m);
      expect(run.stderr).toMatch(/enqueued \d+ judge job\(s\) for session ses_/);
      const Approval = z.object({ id: z.string(), status: z.string(), ticker: z.string() }).passthrough();
      const listed = z.array(Approval).parse(jsonOf(await q('approvals')));
      expect(listed.length).toBeGreaterThanOrEqual(2);
      expect(listed.every((a) => a.status === 'pending')).toBe(true);
      pending = listed.map((a) => a.id);
    });

    it.sequential('`quorum approvals approve|reject ID --reason R` resume the run: an order, or none', async () => {
      const [first = '', second = ''] = pending;
      const approved = jsonOf(await q('approvals', 'approve', first, '--reason', 'doors: looks fine', '--by', 'tester'));
      expect(approved).toMatchObject({ id: first, status: 'approved', order: { status: 'accepted', alreadyExisted: false } });
      const rejected = jsonOf(await q('approvals', 'reject', second, '--reason', 'doors: too small'));
      expect(rejected).toMatchObject({ id: second, status: 'rejected', order: null });
    });

    it.sequential('`quorum token create` works directly while serve runs on PostgreSQL; the token reads the approvals over HTTP', async () => {
      const created = TokenCreated.parse(jsonOf(await q('token', 'create', '--scope', 'read', '--json')));
      expect(created.via).toBeNull();
      const res = await http(`${serveUrl}/v1/approvals`, { headers: bearer(created.token) });
      expect(res.status).toBe(200);
      // The pending ones: those not decided above.
      const ids = z
        .object({ approvals: z.array(z.object({ id: z.string() }).passthrough()) })
        .parse(res.json)
        .approvals.map((a) => a.id);
      expect(ids.sort()).toEqual(pending.slice(2).sort());
    });

    it.sequential('worker, serve and paper-exchange stop cleanly on SIGTERM', async () => {
      const ends = await Promise.all(running.splice(0).map((p) => p.stop('SIGTERM')));
      expect(ends).toEqual(ends.map(() => ({ code: 0, signal: null })));
    });

    it.sequential('`quorum run` serves the API, works the queue and schedules slots in one process, and stops cleanly on SIGTERM', async () => {
      const exchangePort = await freePort();
      const service = spawnQuorum(['run', '--port', '0', '--workers', '2'], { ...env, QUORUM_SETTINGS__EXECUTION__PAPER_EXCHANGE__PORT: String(exchangePort) });
      running.push(service);
      const [, url = ''] = await service.waitFor(/quorum run: API (http:\/\/\S+), 2 worker\(s\), scheduler and exit monitor running/, { timeoutMs: 90_000 });
      expect(service.stderr()).toContain(`paper exchange: http://127.0.0.1:${exchangePort} (in-process)`);
      expect(service.stderr()).toContain(NOTICE);
      expect(service.stderr()).toMatch(/scheduler running \(0 10 \* \* 1-5, 30 12 \* \* 1-5 in America\/New_York; exit monitor /);
      const ready = await http(`${url}/readyz`);
      expect(ready).toMatchObject({ status: 200, json: { status: 'ready', database: 'postgres' } });
      // Its paper exchange holds the account the sessions above traded in (state in the database).
      const account = await http(`http://127.0.0.1:${exchangePort}/v2/account`);
      expect(account.status).toBe(200);
      expect(service.stderr()).not.toMatch(/unexpected error|ERR_/);
      running.splice(running.indexOf(service), 1);
      expect(await service.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(service.stderr()).toContain('quorum: SIGTERM: stopping');
    });
  },
);

describe(
  'without Ollama, Alpaca keys, feeds or PostgreSQL: doctor, the refusals, schedule, eval, backtest, soak',
  { concurrent: true, timeout: STEP_TIMEOUT },
  () => {
    // Each test on a data dir of its own: the tests run at once, and a PGlite directory serves one process.
    const q = (...args: string[]): Promise<CliRun> => runQuorum(args, cliEnv(tempDir('bare')));

    it('`quorum doctor` warns about Ollama and Alpaca and exits 0', async () => {
      const doctor = ok(await q('doctor'));
      expect(doctor.stdout).toContain('Ollama NOT reachable at http://127.0.0.1:9');
      expect(doctor.stdout).toContain('Alpaca keys NOT set');
      expect(doctor.stdout).toMatch(/doctor: ok, with \d+ warning\(s\)/);
    });

    it('refusals name what is missing and exit 2: `ingest prices alpaca` without keys, `ingest news` without feeds, a backtest outside the data', async () => {
      const [alpaca, news, backtest] = await Promise.all([
        q('ingest', 'prices', 'alpaca', '--tickers', 'MSFT', '--from', '2024-01-02', '--to', '2024-01-05'),
        q('ingest', 'news'),
        q('backtest', '--from', '1990-06-01', '--to', '1990-12-31'),
      ]);
      expect([alpaca.code, news.code, backtest.code]).toEqual([2, 2, 2]);
      expect(alpaca.stderr).toMatch(/CONFIG_MISSING: .*(ALPACA|APCA)_API_KEY_ID/);
      expect(news.stderr).toContain('news.feeds: no feeds configured in settings.yaml; pass a FEED_URL, FILE or DIR');
      expect(backtest.stderr).toContain('1991-12-30');
    });

    it('`quorum session run` at the wall clock on stale bars trades nothing, exits 1 saying why, and the webhook is told', async () => {
      const bodies: unknown[] = [];
      const receiver = createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8').on('data', (d: string) => (body += d));
        req.on('end', () => {
          const parsed = parseJson(body);
          bodies.push(parsed.ok ? parsed.value : { invalid: body });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      try {
        const port = (receiver.address() as AddressInfo).port;
        const env = cliEnv(tempDir('live'), {
          QUORUM_SETTINGS__NOTIFICATIONS__TARGETS: `[{ name: hook, kind: webhook, url: "http://127.0.0.1:${port}/hook" }]`,
        });
        ok(await runQuorum(['ingest', 'prices', MSFT, '--ticker', 'MSFT'], env));
        const run = await runQuorum(['session', 'run', '--backend', 'rules'], env);
        expect(run.code, run.stderr).toBe(1);
        // On a trading day the bars are years old; on a weekend or holiday (New York) the time itself is refused.
        expect(run.stdout).toMatch(
          /^session ses_[0-9a-f]+ as of \S+ traded nothing: bars: (.*2001-09-27.*settings\.yaml sessions\.maxBarAgeTradingDays|now \(\S+\) is not a trading day)/m,
        );
        expect(run.stdout).toMatch(/^report: .*session-ses_[0-9a-f]+\.html$/m);
        expect(run.stderr).toMatch(/inputs: bars from stored \(0 stored, newest 2001-09-27/);
        const Body = z.object({ event: z.string(), subject: z.string(), text: z.string() }).passthrough();
        const skipped = z
          .array(Body)
          .parse(bodies)
          .filter((b) => b.event === 'session.skipped');
        expect(skipped).toHaveLength(1);
        expect(skipped[0]?.subject).toMatch(/^Session ses_[0-9a-f]+ traded nothing$/);
        expect(skipped[0]?.text).toMatch(/^bars: /);
      } finally {
        await new Promise<void>((resolve) => receiver.close(() => resolve()));
      }
    });

    it('`quorum session schedule --dry-run` prints the next firings at 10:00 and 12:30 New York, each inside market hours', async () => {
      const run = ok(await q('session', 'schedule', '--dry-run'));
      const lines = run.stdout.trim().split('\n');
      expect(lines).toHaveLength(6);
      for (const line of lines)
        expect(line).toMatch(
          /^next: \d{4}-\d{2}-\d{2}T(10:00|12:30) America\/New_York \(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z\) market open: orders can fill$/,
        );
    });

    it('`quorum eval --backend rules` scores every scenario, passes the committed gate, lists the constant answers; `--compare` diffs two reports', async () => {
      const dir = tempDir('eval');
      const env = cliEnv(dir);
      const junit = path.join(dir, 'eval.junit.xml');
      const run = ok(await runQuorum(['eval', '--backend', 'rules', '--junit', junit], env));
      expect(run.stdout).toMatch(/^# Eval: rules \/ rules-baseline\.v1$/m);
      expect(run.stdout).toMatch(/^\d+ scenarios x 1 seed\(s\)/m);
      expect(run.stdout).toMatch(/^## Gate: PASS \(baseline .*evals\/baselines\/rules-rules-baseline\.v1\.json\)$/m);
      // The same scenario set and prompts as the committed baseline: nothing to note.
      expect(run.stdout).not.toContain('Note: ');
      for (const c of ['always APPROVE 1.0', 'always REDUCE 0.5', 'always REJECT', 'always ABSTAIN', 'rules, news removed (recorded in the baseline)'])
        expect(run.stdout).toContain(`| ${c} |`);
      expect(run.stdout).toMatch(/^\| beats constant answers \(agreement\) \| .* \| ok \|$/m);
      expect(readFileSync(junit, 'utf8')).toMatch(/<testsuite name="eval rules\/rules-baseline\.v1 gate" tests="\d+" failures="0">/);
      const report = /reports: \S+\.md (\S+\.json)/.exec(run.stdout)?.[1] as string;
      // Agent scorecards over the scenarios built from real bars (their realised outcome), in the Markdown and the JSON.
      const bundled = loadScenarios();
      const known = bundled.filter((s) => s.realised).length;
      expect(known).toBeGreaterThanOrEqual(40);
      expect(run.stdout).toMatch(/^## Agent scorecards$/m);
      expect(run.stdout).toContain(`${known} of ${bundled.length} scenarios have a realised outcome`);
      expect(run.stdout).toContain(`their ${known} run(s) are scored`);
      expect(run.stdout).toMatch(new RegExp(`^\\| analyst \\| ${known} \\| 0\\.\\d{3} \\| 0\\.250 \\|`, 'm'));
      expect(run.stdout).toMatch(/^Committee confidence: \d+ decision\(s\) scored \(ABSTAIN left out\), Brier 0\.\d{3}, ECE 0\.\d{3}\.$/m);
      const json = parseJson(readFileSync(report, 'utf8'));
      const scored = z.object({ scorecards: EvalScorecards }).parse(json.ok ? json.value : null).scorecards;
      expect(scored).toMatchObject({ scenarios: bundled.length, withOutcome: known, scorecards: { n: known } });
      expect(scored.scorecards.agents.find((a) => a.role === 'analyst')?.n).toBe(known);
      expect(scored.scorecards.committee.bins.reduce((a, b) => a + b.n, 0)).toBe(scored.scorecards.committee.n);
      const cmpJunit = path.join(dir, 'compare.junit.xml');
      const cmp = ok(await runQuorum(['eval', '--compare', report, report, '--junit', cmpJunit], env));
      expect(cmp.stdout).toMatch(/^# Eval comparison: A rules \/ rules-baseline\.v1 vs B rules \/ rules-baseline\.v1$/m);
      expect(cmp.stdout).toMatch(/^\d+ scenario runs in both: A met \d+, B met \d+; 0 changed, 0 regressed/m);
      expect(cmp.stdout).toMatch(/^\| spy-2013-05-15-clean-uptrend \| 42 \| APPROVE 1\.00 ok \| APPROVE 1\.00 ok \| .* \| = \|$/m);
      expect(readFileSync(cmpJunit, 'utf8')).toContain('failures="0"');
    });

    it('`quorum backtest --from D --to D --critic rules --promotion rule --breakers` (and `--engine sessions`) compares the strategies, retrains by the rule, applies the breakers and writes its report', async () => {
      const dir = tempDir('backtest');
      const sessionsDir = tempDir('backtest-sessions');
      // One losing trade in a row trips the breaker: the month's losses show where it acts. Each
      // candidate is trained as `quorum train` trains (two grid points of the search, early stopping).
      const [fast, sessions] = await Promise.all([
        runQuorum(
          [
            'backtest',
            '--from',
            '1999-03-01',
            '--to',
            '1999-03-31',
            '--critic',
            'rules',
            '--tickers',
            'AA,IBM',
            '--resamples',
            '20',
            '--retrain-every',
            '8',
            '--promotion',
            'rule',
            '--breakers',
          ],
          cliEnv(dir, { QUORUM_SETTINGS__CIRCUIT_BREAKERS__MAX_CONSECUTIVE_LOSSES: '1', QUORUM_SETTINGS__TRAINING__SEARCH__CANDIDATES: '2' }),
        ),
        // The session-replay engine: five trading days, three tickers, each day a session against the paper exchange.
        runQuorum(
          ['backtest', '--engine', 'sessions', '--from', '1993-01-04', '--to', '1993-01-08', '--tickers', 'AA,IBM,MSFT', '--resamples', '20', '--json'],
          cliEnv(sessionsDir),
        ),
      ]);
      const run = ok(fast);
      expect(run.stdout).toContain('| Proposer alone (risk controller only) |');
      expect(run.stdout).toContain('| Proposer + committee (rules) |');
      expect(run.stdout).toContain('| Buy and hold, equal weight (2 tickers) |');
      for (const ext of ['html', 'json']) expect(existsSync(path.join(dir, 'reports', `backtest-1999-03-01-1999-03-31-rules.${ext}`)), ext).toBe(true);

      const file = parseJson(readFileSync(path.join(dir, 'reports', 'backtest-1999-03-01-1999-03-31-rules.json'), 'utf8'));
      const r = parseBacktestResult(z.object({ result: z.unknown() }).parse(file.ok ? file.value : null).result);
      // Three retrain days (every 8 trading days), each decided by settings retrain.promotion (logLoss, max worsening 0).
      const decisions = r.promotions ?? [];
      expect(decisions.map((d) => d.date)).toEqual(['1999-03-01', '1999-03-11', '1999-03-23']);
      expect(decisions[0]).toMatchObject({ decision: 'promoted', incumbent: null, reason: 'no production version of backtest-walk-forward' });
      const rule = { metric: 'logLoss' as const, maxWorsening: 0 };
      for (const d of decisions.slice(1)) {
        expect(d.decision).toBe(ruleAllows(rule, d.candidateValue ?? Number.NaN, d.incumbentValue ?? Number.NaN) ? 'promoted' : 'refused');
        expect(run.stdout).toContain(
          `| ${d.date} | ${d.candidate.modelId} (${d.candidate.version}) | ${d.incumbent?.modelId} (${d.incumbent?.version}) | logLoss `,
        );
      }
      // The models section lists the models that traded: the promoted candidates, end to end.
      expect(r.models.map((m) => m.modelId)).toEqual(decisions.filter((d) => d.decision === 'promoted').map((d) => d.candidate.modelId));
      expect([r.models[0]?.usedFrom, r.models.at(-1)?.usedTo]).toEqual(['1999-03-01', '1999-03-31']);
      expect(run.stdout).toContain('Models (which model traded each day):');
      expect(run.stdout).toContain('Retrain decisions (promotion rule):');

      // The breakers: when a book moved to REDUCING and why; no entry fills the day after an evening in REDUCING.
      const episodes = r.breakers ?? [];
      expect(episodes.length).toBeGreaterThan(0);
      const days = r.strategies.find((s) => s.name === 'proposer')?.days.map((d) => d.date) ?? [];
      for (const e of episodes) {
        expect(e.rules).toEqual(['CONSECUTIVE_LOSSES']);
        expect(run.stdout).toContain(`${e.strategy}: REDUCING by CONSECUTIVE_LOSSES from ${e.from} to ${e.to}`);
        const entries = new Set(r.strategies.find((s) => s.name === e.strategy)?.trades.map((t) => t.entryDate));
        const held = days.filter((d) => d >= e.from && d <= e.to).map((d) => days[days.indexOf(d) + 1]);
        expect(held.filter((d) => d !== undefined && entries.has(d))).toEqual([]);
      }
      expect(run.stdout).toContain('Circuit breakers:');

      const replay = z
        .object({
          result: z.object({
            engine: z.literal('sessions'),
            strategies: z.array(z.object({ name: z.string(), days: z.array(z.object({ date: z.string(), equity: z.number() })) })),
          }),
          timings: z.object({ committeeRuns: z.number() }),
          files: z.object({ json: z.string() }),
        })
        .parse(jsonOf(ok(sessions)));
      expect(replay.result.strategies.map((s) => s.name)).toEqual(['committee', 'buy_and_hold', 'djia']);
      expect(replay.result.strategies[0]?.days.map((d) => d.date)).toEqual(['1993-01-04', '1993-01-05', '1993-01-06', '1993-01-07', '1993-01-08']);
      // Four sessions (the 5th to the 8th, on the evenings before), each judging its top proposals.
      expect(replay.timings.committeeRuns).toBeGreaterThanOrEqual(4);
      expect(replay.files.json).toBe(path.join(sessionsDir, 'reports', 'backtest-1993-01-04-1993-01-08-rules-sessions.json'));
      expect(existsSync(replay.files.json)).toBe(true);
    });

    it('`quorum soak --from D --days 2` replays two days with a crash each and prints the invariants', async () => {
      // Ten tickers and an hourly exit monitor keep it short (the default cron runs every five minutes).
      const tickers = 'AA,AXP,BA,C,GE,HD,IBM,INTC,MSFT,WMT';
      const env = cliEnv(tempDir('soak'), { QUORUM_SETTINGS__SESSIONS__EXIT_MONITOR_CRON: '0 10-15 * * 1-5' });
      const run = ok(await runQuorum(['soak', '--from', '1999-05-03', '--days', '2', '--top-n', '2', '--tickers', tickers], env));
      expect(run.stdout).toMatch(/^sessions run: 4 \(completed 4, failed 0/m);
      expect(run.stdout).toMatch(/^crashes survived: 2 /m);
      expect(run.stdout).toMatch(/^double orders: 0$/m);
      expect(run.stdout).toMatch(/^lost or half-stored records: 0$/m);
      expect(run.stdout).toMatch(/^positions equal fills: true$/m);
      expect(run.stdout).toMatch(/^soak: ok in /m);
    });
  },
);

describe('README.md names only commands that exist, and each is exercised here', () => {
  let tree: CommandTree;
  // The same commands as bin/quorum.js, in this process: its groups' help without a process each.
  const program = new Command();
  for (const register of [
    registerDb,
    registerDoctor,
    registerExecution,
    registerToken,
    registerServe,
    registerNews,
    registerIngestPrices,
    registerTrain,
    registerPropose,
    registerModel,
    registerFeatures,
    registerEval,
    registerCritique,
    registerDemo,
    registerSession,
    registerAudit,
    registerApprovals,
    registerBacktest,
    registerRun,
    registerSoak,
  ])
    register(program);
  const command = (name: string): Command | undefined => program.commands.find((c) => c.name() === name);

  beforeAll(async () => {
    const topHelp = ok(await runQuorum(['--help'], cliEnv(tempDir('help')))).stdout;
    tree = await commandTree(topHelp, (name) => Promise.resolve(command(name)?.helpInformation() ?? ''));
    // The in-process program is bin/quorum.js's: the same top-level commands.
    expect(program.commands.map((c) => c.name()).sort()).toEqual([...tree.top.keys()].sort());
  });

  it('every `quorum` command in README.md is in `quorum --help` and in COVERED; every COVERED command exists', () => {
    const mentions = readmeMentions(README);
    expect(mentions.length).toBeGreaterThan(30);
    const errors: string[] = [];
    const named = new Set<string>();
    for (const m of mentions) {
      const r = resolveMention(m, tree);
      if ('error' in r) errors.push(r.error);
      else if ('command' in r) named.add(r.command);
    }
    expect(errors).toEqual([]);
    const coveredOrGroup = (c: string): boolean => c in COVERED || Object.keys(COVERED).some((k) => k.startsWith(`${c} `));
    expect(
      [...named].filter((c) => !coveredOrGroup(c)),
      'README commands without a doors test',
    ).toEqual([]);
    // The command table names every command: a new command needs a README row (and a test).
    const leaves = [...tree.top.keys()].flatMap((t) => (tree.subs.has(t) ? [...(tree.subs.get(t)?.keys() ?? [])].map((s) => `${t} ${s}`) : [t]));
    expect(
      leaves.filter((c) => !(c in COVERED)),
      'commands of quorum --help missing from COVERED',
    ).toEqual([]);
    expect(
      Object.keys(COVERED).filter((c) => !leaves.includes(c)),
      'COVERED names no command of quorum --help',
    ).toEqual([]);
    expect(
      leaves.filter((c) => !named.has(c) && !(c.includes(' ') && named.has(c.split(' ')[0] ?? ''))),
      'commands README.md does not name',
    ).toEqual([]);
  });

  it("every flag README.md gives a command is one of that command's options", () => {
    const optionsOf = (name: string): Set<string> | null => {
      const [a = '', b] = name.split(' ');
      let c = command(a);
      if (b !== undefined) c = c?.commands.find((x) => x.name() === b);
      return c ? new Set(c.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => f !== undefined)) : null;
    };
    const wrong: string[] = [];
    for (const m of readmeMentions(README)) {
      const r = resolveMention(m, tree);
      const name = 'command' in r ? r.command : 'argument' in r ? (m.after ?? []).join(' ') : null;
      if (name === null) continue;
      const options = optionsOf(name);
      for (const flag of m.flags) {
        if (!options?.has(flag)) wrong.push(`README.md:${m.line} \`${m.text}\`: quorum ${name} has no ${flag}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("README.md's example of a bad limit in a YAML file is the message a user gets (exit 2: tests/cli/doctor.test.ts)", () => {
    const rules = readFileSync(path.join(BUNDLED_CONFIG_DIR, 'risk_rules.yaml'), 'utf8').replace(/^maxPositions: \d+/m, 'maxPositions: 20');
    const quoted = /naming file and field \(`([^`]+)`\)/.exec(README)?.[1];
    expect(quoted).toBe('risk_rules.yaml: maxPositions: Too big: expected number to be <=15 (got 20)');
    const configDir = tempConfigDir({ 'risk_rules.yaml': rules });
    dirs.push(configDir);
    expect(() => loadConfig({ configDir, env: {} })).toThrow(quoted);
  });

  it('every COVERED command was run by this file', () => {
    const toCommand = (args: readonly string[]): string => {
      const [a = '', b = ''] = args;
      const subs = tree.subs.get(a);
      if (!subs) return a;
      // A group run bare runs its default command (`quorum approvals` lists).
      return subs.has(b) ? `${a} ${b}` : `${a} ${[...subs.keys()][0] ?? ''}`;
    };
    const runs = ranCommands.filter((a) => !a.includes('--help'));
    // With a name filter (-t) only this suite ran: nothing to check.
    if (runs.length === 0) return;
    const ran = new Set(runs.map(toCommand));
    const expected = Object.keys(COVERED).filter((c) => hasPg || !PG_ONLY.has(c));
    expect(
      expected.filter((c) => !ran.has(c)),
      'COVERED commands no test ran (run the whole file)',
    ).toEqual([]);
  });
});

function parseJsonOrThrow(text: string): unknown {
  const parsed = parseJson(text);
  if (!parsed.ok) throw new Error(`${parsed.error}: ${text.slice(0, 300)}`);
  return parsed.value;
}
