/**
 * `quorum backtest --critic ollama --cassette FILE --ablate` (a subprocess) through the real
 * ChatOllama client against the Ollama-API test server (node-llama-cpp + the tiny random-weight
 * GGUF): the full run and every ablated variant recorded in one cassette; then `--critic replay` of
 * it, plain and with --ablate, with no server; and a cassette missing calls, refused naming one.
 * Nothing here asserts what the random model says: only routing, structure, what is stored in the
 * cassette, and that the replays reproduce the recorded committee books.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseJson } from '../../contracts/index.ts';
import { readCassette } from '../../evals/index.ts';
import { AblationReport, BacktestMetrics, parseBacktestResult, type BacktestResult } from '../../evals/backtest/index.ts';
import { cliEnv, jsonOf, runQuorum } from '../support/cli.ts';
import { writeTinyGguf } from '../support/gguf.ts';
import { startOllamaTestServer, type OllamaTestServer } from '../support/ollama-server.ts';
import { backtestCli } from './backtest-cli-support.ts';

/** The GGUF seed whose random weights end their JSON early (as in the committee's end-to-end test). */
const GGUF_SEED = 3;
/**
 * One committee run recorded with --ablate, bull and bear disabled (agents.yaml overrides) to keep
 * the generations few: analyst, risk and committee for the full run, risk and committee without the
 * analyst (both see its opinion), the committee alone without risk (the analyst's call repeats the
 * full run's and is answered from the cassette): six generations; then replays.
 */
const TIMEOUT_MS = 600_000;
const AGENTS = { QUORUM_AGENTS__BULL__ENABLED: 'false', QUORUM_AGENTS__BEAR__ENABLED: 'false' };
const dir = mkdtempSync(path.join(tmpdir(), 'quorum-backtest-ollama-'));
let server: OllamaTestServer;

beforeAll(async () => {
  server = await startOllamaTestServer({ ggufPath: writeTinyGguf(undefined, { seed: GGUF_SEED }), models: ['mistral'] });
  process.env.QUORUM_DATA_DIR = path.join(dir, 'data');
  process.env.QUORUM_SETTINGS__LOGGING__LEVEL = 'silent';
  process.env.QUORUM_MODELS__OLLAMA__BASE_URL = server.url;
  process.env.QUORUM_MODELS__LLM__MAX_OUTPUT_TOKENS = '2048';
  Object.assign(process.env, AGENTS);
});
afterAll(async () => {
  await server?.close();
  for (const k of ['QUORUM_MODELS__OLLAMA__BASE_URL', 'QUORUM_MODELS__LLM__MAX_OUTPUT_TOKENS', ...Object.keys(AGENTS)]) delete process.env[k];
  rmSync(dir, { recursive: true, force: true });
});

function jsonOfStdout(stdout: string): unknown {
  const parsed = parseJson(stdout);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}
function resultOf(json: unknown): { result: BacktestResult; committeeRuns: number; metrics: BacktestMetrics } {
  const file = z
    .object({ result: z.unknown(), metrics: BacktestMetrics, timings: z.object({ committeeRuns: z.number() }).passthrough() })
    .passthrough()
    .parse(json);
  return { result: parseBacktestResult(file.result), committeeRuns: file.timings.committeeRuns, metrics: file.metrics };
}

describe('quorum backtest with an LLM critic', () => {
  it(
    "records the full committee and every ablated variant's ChatOllama calls to one cassette; replays reproduce them from it alone, plain and with --ablate",
    async () => {
      const cassette = path.join(dir, 'backtest.cassette.json');
      // One decision day (the last day makes none), one proposal: one committee run per variant.
      const common = ['--from', '1995-01-03', '--to', '1995-01-04', '--tickers', 'GE,IBM,KO', '--proposals-per-day', '1', '--resamples', '20', '--json'];
      const env = cliEnv(path.join(dir, 'cli-data'), { ...AGENTS, QUORUM_MODELS__OLLAMA__BASE_URL: server.url, QUORUM_MODELS__LLM__MAX_OUTPUT_TOKENS: '2048' });
      const before = server.requests.length;
      const recorded = await runQuorum(['backtest', ...common, '--critic', 'ollama', '--cassette', cassette, '--ablate', '--out', path.join(dir, 'a')], env, {
        timeoutMs: TIMEOUT_MS,
      });
      const rec = resultOf(jsonOf(recorded));
      expect(rec.committeeRuns).toBe(1);
      expect(rec.result.strategies.map((s) => s.name)).toContain('committee');
      const chats = server.requests.slice(before).filter((r) => r.path === '/api/chat');
      // 3 (full) + 2 (without analyst) + 1 (without risk), each at least one streamed request with a JSON-schema format.
      expect(chats.length).toBeGreaterThanOrEqual(6);
      expect(chats.every((r) => typeof (r.body as { format?: unknown }).format === 'object')).toBe(true);
      expect(existsSync(cassette)).toBe(true);
      const stored = readCassette(cassette);
      expect(stored.backend).toBe('ollama');
      expect(Object.keys(stored.entries).length).toBe(chats.length);

      const served = server.requests.length;
      const replayed = await backtestCli([...common, '--critic', 'replay', '--cassette', cassette, '--out', path.join(dir, 'b')]);
      expect(server.requests.length).toBe(served);
      expect(replayed.stderr).not.toContain('cassette miss');
      const rep = resultOf(jsonOfStdout(replayed.stdout));
      expect(rep.result.critic).toBe('replay');
      const book = (r: BacktestResult): unknown => {
        const c = r.strategies.find((s) => s.name === 'committee');
        return c ? { days: c.days, trades: c.trades, vetoes: c.vetoes } : null;
      };
      expect(book(rep.result)).toEqual(book(rec.result));
      expect(readFileSync(path.join(dir, 'b', 'backtest-1995-01-03-1995-01-04-replay.html'), 'utf8')).toContain('Proposer + committee (replay)');
      const plainMetrics = rep.metrics.byStrategy.committee;

      // Replay with --ablate, a subprocess with no server: a row per variant, the full row = the plain replay's numbers.
      const ablated = await runQuorum(
        ['backtest', ...common, '--critic', 'replay', '--cassette', cassette, '--ablate', '--out', path.join(dir, 'c')],
        cliEnv(path.join(dir, 'cli-data-2'), AGENTS),
        { timeoutMs: TIMEOUT_MS },
      );
      expect(server.requests.length).toBe(served);
      const out = z.object({ ablation: AblationReport }).passthrough().parse(jsonOf(ablated));
      expect(out.ablation.rows.map((r) => r.variant)).toEqual(['full', 'without_analyst', 'without_risk']);
      const [full, ...rest] = out.ablation.rows;
      expect(full).toMatchObject({
        effect: null,
        sharpe: plainMetrics?.sharpe,
        maxDrawdown: plainMetrics?.maxDrawdown,
        vetoPrecision: plainMetrics?.vetoPrecision,
      });
      for (const row of rest) {
        expect(row.effect).not.toBeNull();
        // An effect and its interval come together (ADR 0034): a value without lo/hi would read as exact.
        for (const m of [row.effect?.sharpe, row.effect?.maxDrawdown, row.effect?.vetoPrecision])
          expect(m?.value === null || (m?.lo !== null && m?.hi !== null)).toBe(true);
      }
      const html = readFileSync(path.join(dir, 'c', 'backtest-1995-01-03-1995-01-04-replay.html'), 'utf8');
      expect(html).toContain('id="ablation"');
      expect(html).toContain('id="scorecards"');

      // A cassette without the risk officer's answers: the ablated replay is refused, naming the call.
      const partial = path.join(dir, 'partial.cassette.json');
      const entries = Object.fromEntries(Object.entries(stored.entries).filter(([, e]) => e.role !== 'risk'));
      writeFileSync(partial, JSON.stringify({ ...stored, entries }));
      const proposal = rec.result.strategies.find((s) => s.name === 'committee')?.vetoes[0]?.ticker;
      const refused = await runQuorum(
        ['backtest', ...common, '--critic', 'replay', '--cassette', partial, '--ablate', '--out', path.join(dir, 'd')],
        cliEnv(path.join(dir, 'cli-data-3'), AGENTS),
        {
          timeoutMs: TIMEOUT_MS,
        },
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/no recorded answer for risk on 1995-01-03 (GE|IBM|KO) in the full backtest/);
      if (proposal) expect(refused.stderr).toContain(proposal);
    },
    TIMEOUT_MS * 2,
  );
});
