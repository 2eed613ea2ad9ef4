import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { Ticker, parseOrThrow } from '../../contracts/index.ts';
// Schemas and constants only (zod): the engine, the models and the committee load when the command runs.
import { DEFAULT_RESAMPLES } from '../../evals/backtest/metrics.ts';
import { BacktestCritic } from '../../evals/backtest/schema.ts';
import type { CassetteBackend } from '../../evals/index.ts';
import type { CommitteeBackend } from '../../graph/index.ts';
import { cliContext, printJson } from '../context.ts';
import { progressBar } from '../progress.ts';

const count = z.coerce.number().int().min(1);
const bps = z.coerce.number().min(0).max(500);

const BacktestArgs = z
  .object({
    from: z.string().min(1),
    to: z.string().min(1),
    critic: BacktestCritic.default('rules'),
    cassette: z.string().min(1).optional(),
    out: z.string().min(1).optional(),
    tickers: z.array(Ticker).min(1).optional(),
    proposalsPerDay: count.max(100).optional(),
    retrainEvery: count.optional(),
    minTrainDays: count.optional(),
    holdingDays: count.max(250).optional(),
    commissionBps: bps.optional(),
    slippageBps: bps.optional(),
    initialEquity: z.coerce.number().positive().optional(),
    resamples: count.max(100_000).default(DEFAULT_RESAMPLES),
    seed: z.coerce.number().int().min(0).optional(),
    universe: z.enum(['dow30', 'stocknet']).default('dow30'),
  })
  .strict()
  .refine((a) => a.critic !== 'replay' || a.cassette !== undefined, {
    message: '--critic replay needs --cassette FILE (recorded with --critic ollama --cassette FILE)',
    path: ['cassette'],
  })
  .refine((a) => a.cassette === undefined || a.critic === 'replay' || a.critic === 'ollama', {
    message: '--cassette goes with --critic ollama (record) or replay',
    path: ['cassette'],
  });

interface BacktestFlags {
  from?: string;
  to?: string;
  critic?: string;
  cassette?: string;
  out?: string;
  tickers?: string;
  proposalsPerDay?: string;
  retrainEvery?: string;
  minTrainDays?: string;
  holdingDays?: string;
  commissionBps?: string;
  slippageBps?: string;
  initialEquity?: string;
  resamples?: string;
  seed?: string;
  universe?: string;
  json?: boolean;
}

/** `quorum backtest`. */
export function registerBacktest(program: Command): void {
  program
    .command('backtest')
    .description(
      'replay the bundled Dow 30 history day by day: proposer alone vs proposer + committee vs buy-and-hold vs the indices, with walk-forward retraining',
    )
    .requiredOption('--from <date>', 'first day (YYYY-MM-DD)')
    .requiredOption('--to <date>', 'last day (YYYY-MM-DD)')
    .option('--critic <name>', "none | rules | ollama | replay (the committee strategy's judge)", 'rules')
    .option('--cassette <file>', 'with --critic ollama: record the LLM calls here; with replay: answer from it')
    .option('--out <dir>', 'report folder (default: <dataDir>/<sessions.reportsDir>)')
    .option('--tickers <list>', 'comma-separated subset of the universe (default: settings market.universe, or all 30)')
    .option('--proposals-per-day <n>', 'default settings.backtest.proposalsPerDay')
    .option('--retrain-every <n>', 'trading days between retrains (default settings.backtest.retrainEveryDays)')
    .option('--min-train-days <n>', 'trading days of history before --from (default settings.backtest.minTrainDays)')
    .option('--holding-days <n>', "time exit in trading days (default: the model's label horizon)")
    .option('--commission-bps <x>', 'per side (default settings.backtest.commissionBps)')
    .option('--slippage-bps <x>', 'per side (default settings.backtest.slippageBps)')
    .option('--initial-equity <x>', 'starting cash (default settings.backtest.initialEquity)')
    .option('--resamples <n>', `bootstrap resamples per interval (default ${DEFAULT_RESAMPLES})`)
    .option('--seed <n>', 'bootstrap seed (default models.yaml llm.seed)')
    .option('--universe <name>', 'dow30 (1991-2000 closes) | stocknet (30 stocks, OHLCV 2013-2014: replay 2014)', 'dow30')
    .option('--json', 'print the result and metrics as JSON')
    .action(async (opts: BacktestFlags) => {
      const args = parseOrThrow(
        BacktestArgs,
        {
          from: opts.from,
          to: opts.to,
          critic: opts.critic,
          cassette: opts.cassette,
          out: opts.out,
          tickers: opts.tickers
            ?.split(',')
            .map((t) => t.trim())
            .filter((t) => t.length > 0),
          proposalsPerDay: opts.proposalsPerDay,
          retrainEvery: opts.retrainEvery,
          minTrainDays: opts.minTrainDays,
          holdingDays: opts.holdingDays,
          commissionBps: opts.commissionBps,
          slippageBps: opts.slippageBps,
          initialEquity: opts.initialEquity,
          resamples: opts.resamples,
          seed: opts.seed,
          universe: opts.universe,
        },
        'backtest',
      );
      const ctx = cliContext();
      const { computeMetrics, loadBundledPrices, loadStocknetPrices, renderMarkdownSummary, runBacktest, writeBacktestReport } =
        await import('../../evals/backtest/index.ts');
      const { createCassetteBackend, emptyCassette, readCassette, writeCassette } = await import('../../evals/index.ts');
      const { createOllamaBackend, ollamaOptionsFromConfig } = await import('../../agents/index.ts');
      const { config } = ctx;
      const universe = args.tickers ?? (args.universe === 'dow30' && config.settings.market.universe.length > 0 ? config.settings.market.universe : undefined);
      const data = args.universe === 'stocknet' ? loadStocknetPrices(universe) : loadBundledPrices(universe);

      let backend: CommitteeBackend | undefined;
      let cassetteBackend: CassetteBackend | null = null;
      const seed = config.models.llm.seed;
      if (args.critic === 'rules') backend = 'rules';
      else if (args.critic === 'ollama') {
        const inner = createOllamaBackend(ollamaOptionsFromConfig(config.models));
        if (args.cassette) {
          cassetteBackend = createCassetteBackend({ mode: 'record', cassette: emptyCassette(inner.name, inner.model('committee')), seed, inner });
          backend = cassetteBackend;
        } else backend = inner;
      } else if (args.critic === 'replay') {
        cassetteBackend = createCassetteBackend({ mode: 'replay', cassette: readCassette(args.cassette ?? ''), seed });
        backend = cassetteBackend;
      }

      const bar = progressBar(`backtest ${args.from}..${args.to} (${args.critic})`);
      const started = performance.now();
      let run;
      try {
        run = await runBacktest({
          config,
          data,
          from: args.from,
          to: args.to,
          critic: args.critic,
          backend,
          settings: {
            ...(args.proposalsPerDay !== undefined ? { proposalsPerDay: args.proposalsPerDay } : {}),
            ...(args.retrainEvery !== undefined ? { retrainEveryDays: args.retrainEvery } : {}),
            ...(args.minTrainDays !== undefined ? { minTrainDays: args.minTrainDays } : {}),
            ...(args.holdingDays !== undefined ? { holdingDays: args.holdingDays } : {}),
            ...(args.commissionBps !== undefined ? { commissionBps: args.commissionBps } : {}),
            ...(args.slippageBps !== undefined ? { slippageBps: args.slippageBps } : {}),
            ...(args.initialEquity !== undefined ? { initialEquity: args.initialEquity } : {}),
          },
          onProgress: (p) => bar.update(p.done, p.total),
        });
      } finally {
        bar.stop();
        if (cassetteBackend?.close) await cassetteBackend.close();
      }
      if (cassetteBackend) {
        const calls = cassetteBackend.hits + cassetteBackend.misses.length;
        if (cassetteBackend.mode === 'replay' && cassetteBackend.misses.length > 0) {
          run.result.notes.push(
            `Replay: ${cassetteBackend.misses.length} of ${calls} LLM requests were not in the cassette; those agents abstained (a committee that abstains vetoes the proposal).`,
          );
          process.stderr.write(`quorum backtest: ${cassetteBackend.misses.length} cassette miss(es): the replay is not the recorded run\n`);
        }
        if (cassetteBackend.mode === 'record' && args.cassette) writeCassette(args.cassette, cassetteBackend.cassette);
      }
      const metrics = computeMetrics(run.result, { seed: args.seed ?? Math.max(0, seed), resamples: args.resamples });
      const outDir = args.out ?? path.resolve(config.dataDir, config.settings.sessions.reportsDir);
      const files = writeBacktestReport(run, metrics, outDir);
      const wallSeconds = (performance.now() - started) / 1000;
      if (opts.json) {
        printJson({ result: run.result, metrics, models: run.models, timings: run.timings, files });
        return;
      }
      process.stdout.write(renderMarkdownSummary(run.result, metrics));
      process.stdout.write(
        `\nwall time ${wallSeconds.toFixed(1)} s (training ${(run.timings.trainMs / 1000).toFixed(1)} s, proposer ${(run.timings.proposeMs / 1000).toFixed(1)} s, committee ${(run.timings.committeeMs / 1000).toFixed(1)} s for ${run.timings.committeeRuns} runs)\n`,
      );
      process.stdout.write(`report: ${files.html}\njson:   ${files.json}\n`);
    });
}
