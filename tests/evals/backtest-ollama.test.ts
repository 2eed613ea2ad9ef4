/**
 * `quorum backtest --critic ollama --cassette FILE` through the real ChatOllama client against the
 * Ollama-API test server (node-llama-cpp + the tiny random-weight GGUF), then `--critic replay` of
 * the cassette it wrote. Nothing here asserts what the random model says: only routing, structure,
 * what is stored in the cassette, and that the replay reproduces the recorded committee book.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseJson } from '../../contracts/index.ts';
import { readCassette } from '../../evals/index.ts';
import { parseBacktestResult, type BacktestResult } from '../../evals/backtest/schema.ts';
import { writeTinyGguf } from '../support/gguf.ts';
import { startOllamaTestServer, type OllamaTestServer } from '../support/ollama-server.ts';
import { backtestCli } from './backtest-cli-support.ts';

/** The GGUF seed whose random weights end their JSON early (as in the committee's end-to-end test). */
const GGUF_SEED = 3;
/** One committee (five sequential generations on a shared 2-core machine), then a replay. */
const TIMEOUT_MS = 400_000;
const dir = mkdtempSync(path.join(tmpdir(), 'quorum-backtest-ollama-'));
let server: OllamaTestServer;

beforeAll(async () => {
  server = await startOllamaTestServer({ ggufPath: writeTinyGguf(undefined, { seed: GGUF_SEED }), models: ['mistral'] });
  process.env.QUORUM_DATA_DIR = path.join(dir, 'data');
  process.env.QUORUM_SETTINGS__LOGGING__LEVEL = 'silent';
  process.env.QUORUM_MODELS__OLLAMA__BASE_URL = server.url;
  process.env.QUORUM_MODELS__LLM__MAX_OUTPUT_TOKENS = '2048';
});
afterAll(async () => {
  await server?.close();
  for (const k of ['QUORUM_MODELS__OLLAMA__BASE_URL', 'QUORUM_MODELS__LLM__MAX_OUTPUT_TOKENS']) delete process.env[k];
  rmSync(dir, { recursive: true, force: true });
});

function resultOf(stdout: string): { result: BacktestResult; committeeRuns: number } {
  const parsed = parseJson(stdout);
  if (!parsed.ok) throw new Error(parsed.error);
  const file = z
    .object({ result: z.unknown(), timings: z.object({ committeeRuns: z.number() }).passthrough() })
    .passthrough()
    .parse(parsed.value);
  return { result: parseBacktestResult(file.result), committeeRuns: file.timings.committeeRuns };
}

describe('quorum backtest with an LLM critic', () => {
  it(
    "records the committee's ChatOllama calls to a cassette, and --critic replay reproduces the run from it alone",
    async () => {
      const cassette = path.join(dir, 'backtest.cassette.json');
      // One decision day (the last day makes none), one proposal: one committee run.
      const common = ['--from', '1995-01-03', '--to', '1995-01-04', '--tickers', 'GE,IBM,KO', '--proposals-per-day', '1', '--resamples', '20', '--json'];
      const before = server.requests.length;
      const recorded = await backtestCli([...common, '--critic', 'ollama', '--cassette', cassette, '--out', path.join(dir, 'a')]);
      const rec = resultOf(recorded.stdout);
      expect(rec.committeeRuns).toBe(1);
      expect(rec.result.strategies.map((s) => s.name)).toContain('committee');
      const chats = server.requests.slice(before).filter((r) => r.path === '/api/chat');
      // Five agents at one debate round, each at least one streamed request with a JSON-schema format.
      expect(chats.length).toBeGreaterThanOrEqual(5);
      expect(chats.every((r) => typeof (r.body as { format?: unknown }).format === 'object')).toBe(true);
      expect(existsSync(cassette)).toBe(true);
      const stored = readCassette(cassette);
      expect(stored.backend).toBe('ollama');
      expect(Object.keys(stored.entries).length).toBe(chats.length);

      const served = server.requests.length;
      const replayed = await backtestCli([...common, '--critic', 'replay', '--cassette', cassette, '--out', path.join(dir, 'b')]);
      expect(server.requests.length).toBe(served);
      expect(replayed.stderr).not.toContain('cassette miss');
      const rep = resultOf(replayed.stdout);
      expect(rep.result.critic).toBe('replay');
      const book = (r: BacktestResult): unknown => {
        const c = r.strategies.find((s) => s.name === 'committee');
        return c ? { days: c.days, trades: c.trades, vetoes: c.vetoes } : null;
      };
      expect(book(rep.result)).toEqual(book(rec.result));
      expect(readFileSync(path.join(dir, 'b', 'backtest-1995-01-03-1995-01-04-replay.html'), 'utf8')).toContain('Proposer + committee (replay)');
    },
    TIMEOUT_MS,
  );
});
