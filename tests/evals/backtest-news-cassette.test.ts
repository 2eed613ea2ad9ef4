/**
 * The 2014 with/without-news comparison as one command for a user with Ollama, run as a user runs
 * it (`node bin/quorum.js`, its own process, a fresh data dir): `quorum ingest news` stores Apple's
 * tweets of its earnings week, then `quorum backtest --universe stocknet --news --news-ablation
 * --critic ollama --cassette FILE` runs the committee with the tweets and without them through the
 * real ChatOllama client against the Ollama-API test server (node-llama-cpp + the tiny random-weight
 * GGUF), recording both runs into one cassette; `--critic replay` of that cassette, with no server
 * at all, gives the identical reports. What the random model says is never asserted: only routing,
 * what reaches the prompts, what is stored, and that the replay reproduces the recording.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../config/index.ts';
import { parseJson } from '../../contracts/index.ts';
import { readCassette } from '../../evals/index.ts';
import { cliEnv, NO_OLLAMA_URL, runQuorum } from '../support/cli.ts';
import { writeTinyGguf } from '../support/gguf.ts';
import { startOllamaTestServer, type OllamaTestServer } from '../support/ollama-server.ts';

/** The GGUF seed whose random weights end their JSON early (as in the other backtest cassette test). */
const GGUF_SEED = 3;
/** Two committee runs (five sequential generations each on a shared 2-core machine), a replay and an ingest. */
const TIMEOUT_MS = 400_000;
const dir = mkdtempSync(path.join(tmpdir(), 'quorum-bt-news-cassette-'));
let server: OllamaTestServer;

beforeAll(async () => {
  server = await startOllamaTestServer({ ggufPath: writeTinyGguf(undefined, { seed: GGUF_SEED }), models: ['mistral'] });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A written backtest report (JSON): the parts compared here. */
const Report = z
  .object({
    result: z.object({ notes: z.array(z.string()), strategies: z.array(z.object({ name: z.string(), label: z.string() }).passthrough()) }).passthrough(),
    metrics: z.unknown(),
    timings: z.object({ committeeRuns: z.number() }).passthrough(),
  })
  .passthrough();

/** The text of every message of a chat request (what the model was shown). */
function promptText(body: unknown): string {
  const messages = z
    .object({ messages: z.array(z.object({ content: z.string() }).passthrough()) })
    .passthrough()
    .safeParse(body);
  return messages.success ? messages.data.messages.map((m) => m.content).join('\n') : '';
}

describe('quorum backtest --news --news-ablation with an LLM committee', () => {
  it(
    'records the committee with the tweets and without them into one cassette, and the replay with no server gives the same two reports',
    async () => {
      const dataDir = path.join(dir, 'data');
      const env = cliEnv(dataDir, { QUORUM_MODELS__OLLAMA__BASE_URL: server.url, QUORUM_MODELS__LLM__MAX_OUTPUT_TOKENS: '2048' });
      // Apple's tweets of the week of its 2014-01-27 report, stored as a user stores the whole file.
      const lines = gunzipSync(readFileSync(path.join(PROJECT_ROOT, 'data/samples/stocknet-2014/tweets.jsonl.gz')))
        .toString('utf8')
        .split('\n')
        .filter((l) => l.includes('"AAPL"') && l.includes('"2014-01-27T'));
      const tweets = path.join(dir, 'aapl.jsonl.gz');
      writeFileSync(tweets, gzipSync(lines.join('\n')));
      const ingest = await runQuorum(['ingest', 'news', tweets], env);
      expect(ingest.code, ingest.stderr).toBe(0);
      expect(ingest.stdout).toMatch(/\d+ new/);

      const cassette = path.join(dir, 'stocknet-2014.cassette.json');
      // One decision day (the last day makes none), one proposal a day: one committee run with news, one without.
      const args = (critic: string, out: string): string[] => [
        'backtest',
        '--universe',
        'stocknet',
        '--from',
        '2014-01-27',
        '--to',
        '2014-01-28',
        '--tickers',
        'AAPL',
        '--proposals-per-day',
        '1',
        '--news',
        '--news-ablation',
        '--critic',
        critic,
        '--cassette',
        cassette,
        '--resamples',
        '20',
        '--out',
        path.join(dir, out),
      ];
      const reports = (out: string, critic: string): Array<z.infer<typeof Report>> =>
        ['', 'news-removed'].map((sub) => {
          const parsed = parseJson(readFileSync(path.join(dir, out, sub, `backtest-2014-01-27-2014-01-28-${critic}.json`), 'utf8'));
          if (!parsed.ok) throw new Error(parsed.error);
          return Report.parse(parsed.value);
        });
      const before = server.requests.length;
      const recorded = await runQuorum(args('ollama', 'a'), env, { timeoutMs: TIMEOUT_MS });
      expect(recorded.code, recorded.stderr).toBe(0);
      // The side-by-side table a user reads.
      expect(recorded.stdout).toContain('## What the news added (committee, ollama)');
      expect(recorded.stdout).toMatch(/\| trades \| \d+ \| \d+ \|/);
      const [withNews, newsRemoved] = reports('a', 'ollama');
      expect(withNews?.timings.committeeRuns).toBe(1);
      expect(newsRemoved?.timings.committeeRuns).toBe(1);
      expect(withNews?.result.notes.some((n) => n.startsWith('News: the committee searches'))).toBe(true);
      expect(newsRemoved?.result.notes.some((n) => n.startsWith('News: no news archive was given to this run'))).toBe(true);
      const chats = server.requests.slice(before).filter((r) => r.path === '/api/chat');
      expect(chats.length).toBeGreaterThanOrEqual(10);
      // The tweets reach prompts of the run with news, and not every prompt (the news-removed run sees none).
      const prompts = chats.map((r) => promptText(r.body));
      const withTweets = prompts.filter((p) => p.includes('$AAPL'));
      expect(withTweets.length).toBeGreaterThan(0);
      expect(withTweets.length).toBeLessThan(prompts.length);
      const stored = readCassette(cassette);
      expect(stored.backend).toBe('ollama');
      expect(Object.keys(stored.entries).length).toBeGreaterThanOrEqual(new Set(prompts).size);

      // The replay: Ollama unreachable, every answer from the cassette, the same two reports.
      const served = server.requests.length;
      const offline = { ...env, QUORUM_MODELS__OLLAMA__BASE_URL: NO_OLLAMA_URL };
      const replayed = await runQuorum(args('replay', 'b'), offline, { timeoutMs: TIMEOUT_MS });
      expect(replayed.code, replayed.stderr).toBe(0);
      expect(replayed.stderr).not.toContain('cassette miss');
      expect(server.requests.length).toBe(served);
      const [replayNews, replayRemoved] = reports('b', 'replay');
      const book = (r: z.infer<typeof Report> | undefined): unknown => ({
        strategies: r?.result.strategies.map((s) => ({ ...s, label: null })),
        metrics: r?.metrics,
      });
      expect(book(replayNews)).toEqual(book(withNews));
      expect(book(replayRemoved)).toEqual(book(newsRemoved));
      expect(replayed.stdout).toContain('## What the news added (committee, replay)');
    },
    TIMEOUT_MS * 2,
  );

  it('refuses --news-ablation without --news, naming the flag', async () => {
    const run = await runQuorum(
      ['backtest', '--universe', 'stocknet', '--from', '2014-01-27', '--to', '2014-01-28', '--news-ablation'],
      cliEnv(path.join(dir, 'empty')),
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/newsAblation.*needs --news|--news-ablation.*needs --news/);
  });
});
