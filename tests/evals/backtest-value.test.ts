/**
 * `quorum backtest --critic rules --ablate --memory` as a user runs it (a subprocess, fresh data
 * dir): the ablation rows (full + each agent removed, effects with intervals), the memory comparison
 * (with and without, the effect paired), the scorecards, all in the JSON and the HTML report; bad
 * combinations refused naming the flag.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AblationReport, BacktestMetrics, MemoryComparison } from '../../evals/backtest/index.ts';
import { Scorecards } from '../../evals/index.ts';
import { cliEnv, jsonOf, runQuorum } from '../support/cli.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'quorum-backtest-value-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('quorum backtest --ablate --memory (rules)', () => {
  it('reports each agent removed in turn, the committee with and without memory, and the scorecards', async () => {
    const out = path.join(dir, 'reports');
    const run = await runQuorum(
      [
        'backtest',
        '--from',
        '1995-01-03',
        '--to',
        '1995-01-31',
        '--tickers',
        'GE,IBM,KO',
        '--critic',
        'rules',
        '--ablate',
        '--memory',
        '--resamples',
        '100',
        '--out',
        out,
        '--json',
      ],
      cliEnv(path.join(dir, 'data')),
      { timeoutMs: 300_000 },
    );
    const file = z
      .object({
        metrics: BacktestMetrics,
        ablation: AblationReport,
        memory: MemoryComparison,
        scorecards: Scorecards,
        files: z.object({ html: z.string() }).passthrough(),
      })
      .passthrough()
      .parse(jsonOf(run));
    expect(file.ablation.rows.map((r) => r.variant)).toEqual(['full', 'without_analyst', 'without_bull', 'without_bear', 'without_risk']);
    // The full row is the report's committee book (the main run has memory, as the ablation's variants do).
    const committee = file.metrics.byStrategy.committee;
    expect(file.ablation.rows[0]).toMatchObject({ sharpe: committee?.sharpe, maxDrawdown: committee?.maxDrawdown, trades: committee?.trades });
    expect(file.memory.with).toMatchObject({ sharpe: committee?.sharpe, trades: committee?.trades });
    // The rules committee judges the evidence, not the debate: removing bull or bear changes nothing, exactly.
    for (const v of ['without_bull', 'without_bear']) {
      const row = file.ablation.rows.find((r) => r.variant === v);
      expect(row?.effect?.maxDrawdown).toEqual({ value: 0, lo: 0, hi: 0 });
    }
    // Without the analyst the rules have no indicators: no trade at all.
    expect(file.ablation.rows.find((r) => r.variant === 'without_analyst')?.trades).toBe(0);
    expect(file.scorecards.n).toBeGreaterThan(0);
    expect(file.scorecards.agents.map((a) => a.role)).toEqual(['analyst', 'bull', 'bear', 'risk']);
    for (const a of file.scorecards.agents) if (a.brier !== null) expect(a.brier).toBeLessThanOrEqual(1);
    const html = readFileSync(file.files.html, 'utf8');
    for (const id of ['ablation', 'memory', 'scorecards', 'calibration']) expect(html).toContain(`id="${id}"`);
  }, 300_000);

  it('refuses --ablate and --memory without a committee, naming the flag', async () => {
    const env = cliEnv(path.join(dir, 'data-2'));
    for (const flag of ['--ablate', '--memory']) {
      const run = await runQuorum(['backtest', '--from', '1995-01-03', '--to', '1995-01-10', '--critic', 'none', flag], env);
      // Bad input exits 2 (the CLI's INPUT_INVALID).
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(flag.slice(2));
      expect(run.stderr).toMatch(/--critic rules, ollama or replay/);
    }
  }, 60_000);
});
