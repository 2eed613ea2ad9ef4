/**
 * `quorum backtest` in-process (its own commander program, the real command module): a short range
 * writes the HTML and JSON report; bad input is refused naming the field.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseJson } from '../../contracts/index.ts';
import { BacktestMetrics, parseBacktestResult } from '../../evals/backtest/schema.ts';
import { loadBundledPrices, runBacktest } from '../../evals/backtest/index.ts';
import { createCassetteBackend, emptyCassette, writeCassette } from '../../evals/index.ts';
import { loadConfig } from '../../config/index.ts';
import { obedientModel } from './support.ts';
import { backtestCli as backtest, backtestRefusal as refusal } from './backtest-cli-support.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'quorum-backtest-cli-'));

beforeAll(() => {
  process.env.QUORUM_DATA_DIR = path.join(dir, 'data');
  process.env.QUORUM_SETTINGS__LOGGING__LEVEL = 'silent';
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('quorum backtest', () => {
  it('writes the HTML and JSON report of a short range and prints the metrics table', async () => {
    const out = path.join(dir, 'reports');
    const { stdout } = await backtest([
      '--from',
      '1995-01-03',
      '--to',
      '1995-01-20',
      '--critic',
      'rules',
      '--tickers',
      'GE,IBM',
      '--retrain-every',
      '10',
      '--resamples',
      '50',
      '--out',
      out,
    ]);
    const html = path.join(out, 'backtest-1995-01-03-1995-01-20-rules.html');
    const json = path.join(out, 'backtest-1995-01-03-1995-01-20-rules.json');
    expect(existsSync(html)).toBe(true);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('Proposer + committee (rules)');
    const parsed = parseJson(readFileSync(json, 'utf8'));
    if (!parsed.ok) throw new Error(parsed.error);
    const file = z.object({ result: z.unknown(), metrics: BacktestMetrics, models: z.array(z.unknown()), timings: z.unknown() }).parse(parsed.value);
    const result = parseBacktestResult(file.result);
    expect(result).toMatchObject({ from: '1995-01-03', to: '1995-01-20', critic: 'rules' });
    expect(result.params.universe).toEqual(['GE', 'IBM']);
    expect(Object.keys(file.metrics.byStrategy).sort()).toEqual(['buy_and_hold', 'committee', 'djia', 'proposer']);
    expect(file.metrics.resamples).toBe(50);
    expect(stdout).toContain('| Proposer alone');
    expect(stdout).toContain(`report: ${html}`);
  }, 180_000);

  it('--critic replay answers the committee from a cassette file recorded earlier, with no miss', async () => {
    const config = loadConfig();
    const cassette = emptyCassette('scripted', 'scripted');
    const recorder = createCassetteBackend({ mode: 'record', cassette, seed: config.models.llm.seed, inner: obedientModel() });
    const settings = { retrainEveryDays: 10, proposalsPerDay: 1 };
    const recorded = await runBacktest({
      config,
      data: loadBundledPrices(['GE', 'IBM']),
      from: '1995-01-03',
      to: '1995-01-10',
      critic: 'ollama',
      backend: recorder,
      settings,
    });
    const file = path.join(dir, 'cassette.json');
    writeCassette(file, cassette);
    const out = path.join(dir, 'replay');
    const { stdout, stderr } = await backtest([
      '--from',
      '1995-01-03',
      '--to',
      '1995-01-10',
      '--critic',
      'replay',
      '--cassette',
      file,
      '--tickers',
      'GE,IBM',
      '--retrain-every',
      '10',
      '--proposals-per-day',
      '1',
      '--resamples',
      '20',
      '--json',
      '--out',
      out,
    ]);
    expect(stderr).not.toContain('cassette miss');
    const parsed = parseJson(stdout);
    if (!parsed.ok) throw new Error(parsed.error);
    const result = parseBacktestResult(z.object({ result: z.unknown() }).passthrough().parse(parsed.value).result);
    expect(result.critic).toBe('replay');
    expect(result.notes.join('\n')).not.toContain('not in the cassette');
    // Same committee verdicts, so the same committee book as the recorded run.
    expect(recorded.decisions.flatMap((d) => d.verdicts).length).toBeGreaterThan(0);
    const book = (s: { days: unknown; trades: unknown; vetoes: unknown } | undefined): unknown =>
      s ? { days: s.days, trades: s.trades, vetoes: s.vetoes } : null;
    expect(book(result.strategies.find((s) => s.name === 'committee'))).toEqual(book(recorded.result.strategies.find((s) => s.name === 'committee')));
    expect(existsSync(path.join(out, 'backtest-1995-01-03-1995-01-10-replay.json'))).toBe(true);
  }, 180_000);

  it('refuses a range outside the data with the available range, naming --from', async () => {
    const e = await refusal(['--from', '1980-01-02', '--to', '1995-06-30', '--critic', 'none']);
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.details).toMatchObject({ field: 'from' });
    expect(e.message).toContain('--from 1980-01-02 is before the first usable date 1991-12-30; available dates: 1991-12-30..2001-01-02');
  });

  it('refuses replay without a cassette, an unknown critic, an unknown promotion and an unknown ticker', async () => {
    expect((await refusal(['--from', '1995-01-03', '--to', '1995-01-20', '--critic', 'replay'])).message).toContain('--critic replay needs --cassette FILE');
    expect((await refusal(['--from', '1995-01-03', '--to', '1995-01-20', '--critic', 'gpt'])).message).toContain('critic');
    const p = await refusal(['--from', '1995-01-03', '--to', '1995-01-20', '--promotion', 'sometimes']);
    expect(p.code).toBe('INPUT_INVALID');
    expect(p.message).toBe('backtest: promotion: Invalid option: expected one of "always"|"rule"');
    const t = await refusal(['--from', '1995-01-03', '--to', '1995-01-20', '--tickers', 'GE,ZZZ']);
    expect(t.details).toMatchObject({ field: 'tickers' });
    expect(t.message).toContain('ZZZ not in DowJones30.csv');
  });

  it("refuses an unknown engine, and the session-replay engine without a committee or with the fast engine's extras", async () => {
    expect((await refusal(['--from', '1995-01-03', '--to', '1995-01-20', '--engine', 'turbo'])).message).toContain('engine');
    for (const extra of [['--critic', 'none'], ['--ablate'], ['--memory'], ['--news']]) {
      const e = await refusal(['--from', '1995-01-03', '--to', '1995-01-20', '--engine', 'sessions', ...extra]);
      expect(e.code, extra.join(' ')).toBe('INPUT_INVALID');
      expect(e.message, extra.join(' ')).toContain('--engine sessions replays the committee book through live sessions');
    }
  });
});
