import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { Ticker, parseOrThrow, type AgentRole } from '../../contracts/index.ts';
// Schemas and constants only (zod): the engine, the models and the committee load when the command runs.
import { DEFAULT_RESAMPLES } from '../../evals/backtest/metrics.ts';
import { BacktestCritic, BacktestEngine } from '../../evals/backtest/schema.ts';
import type { CassetteBackend } from '../../evals/index.ts';
import type { Config } from '../../config/index.ts';
import type { Db } from '../../db/index.ts';
import type { CommitteeBackend } from '../../graph/index.ts';
import type { NewsSearcher } from '../../tools/index.ts';
import type { Embedder } from '../../rag/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';
import { progressBar } from '../progress.ts';

const count = z.coerce.number().int().min(1);

type NewsArchive = { search: NewsSearcher; source: string };

/** `--news`: the database's news store, searched point in time; refused when it holds nothing. */
async function storedNews(db: Db, config: Config): Promise<NewsArchive> {
  const { QuorumError } = await import('../../contracts/index.ts');
  const { createEmbedder, searchNews } = await import('../../rag/index.ts');
  const res = await db.query('SELECT count(*)::int AS n, min(published_at) AS first, max(published_at) AS last FROM news_items');
  const row = z.object({ n: z.number(), first: z.coerce.date().nullable(), last: z.coerce.date().nullable() }).parse(res.rows[0]);
  if (row.n === 0 || !row.first || !row.last) {
    throw new QuorumError('INPUT_INVALID', '--news: the database holds no news items; store some first (quorum ingest news FILE)', { field: 'news' });
  }
  const embedder = await createEmbedder(config);
  const where = db.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : 'PGlite';
  return {
    search: (q) => searchNews(db, embedder, q, { halfLifeDays: config.settings.news.recencyHalfLifeDays }),
    source: `the ${row.n} news items stored in ${where} (published ${row.first.toISOString().slice(0, 10)}..${row.last.toISOString().slice(0, 10)})`,
  };
}
const bps = z.coerce.number().min(0).max(500);

const BacktestArgs = z
  .object({
    from: z.string().min(1),
    to: z.string().min(1),
    critic: BacktestCritic.default('rules'),
    engine: BacktestEngine.default('fast'),
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
    news: z.boolean().default(false),
    newsAblation: z.boolean().default(false),
    ablate: z.boolean().default(false),
    memory: z.boolean().default(false),
    promotion: z.enum(['always', 'rule']).optional(),
    breakers: z.boolean().default(false),
  })
  .strict()
  .refine((a) => !a.newsAblation || a.news, {
    message: '--news-ablation compares the committee with the stored news and without it: it needs --news',
    path: ['newsAblation'],
  })
  .refine((a) => !a.ablate || a.critic !== 'none', {
    message: '--ablate removes agents from the committee: use it with --critic rules, ollama or replay',
    path: ['ablate'],
  })
  .refine((a) => !a.memory || a.critic !== 'none', {
    message: '--memory gives the committee outcome memory: use it with --critic rules, ollama or replay',
    path: ['memory'],
  })
  .refine((a) => a.engine === 'fast' || (a.critic !== 'none' && !a.ablate && !a.memory && !a.news), {
    message:
      '--engine sessions replays the committee book through live sessions: use it with --critic rules, ollama or replay, without --ablate, --memory or --news',
    path: ['engine'],
  })
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
  engine?: string;
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
  news?: boolean;
  newsAblation?: boolean;
  ablate?: boolean;
  memory?: boolean;
  promotion?: string;
  breakers?: boolean;
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
    .option(
      '--engine <name>',
      'fast (the backtest day loop) | sessions (each day as live operation: exit monitor, then a session against the paper exchange in-process; committee book only)',
      'fast',
    )
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
    .option('--news', 'the committee searches the news stored in the database, point in time (ingest it first: quorum ingest news FILE)')
    .option('--news-ablation', 'with --news: run the same backtest again with the news removed and report both side by side (one cassette records both)')
    .option(
      '--ablate',
      'also replay the committee with each agent removed in turn and report its marginal effect (with --critic ollama --cassette: record every variant)',
    )
    .option(
      '--memory',
      "the committee's outcome memory: judged proposals' outcomes are stored once their horizon passes and searched point in time; also runs without it and reports both",
    )
    .option(
      '--promotion <how>',
      'always (each retrained model trades) | rule (train as quorum train does; replace the model only when settings retrain.promotion allows) (default settings.backtest.promotion)',
    )
    .option('--breakers', "apply settings.circuitBreakers to each book's own closed trades; the report says when a book moved to REDUCING and why")
    .option('--json', 'print the result and metrics as JSON')
    .action(async (opts: BacktestFlags) => {
      const args = parseOrThrow(
        BacktestArgs,
        {
          from: opts.from,
          to: opts.to,
          critic: opts.critic,
          engine: opts.engine,
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
          news: opts.news ?? false,
          newsAblation: opts.newsAblation ?? false,
          ablate: opts.ablate ?? false,
          memory: opts.memory ?? false,
          promotion: opts.promotion,
          breakers: opts.breakers ?? false,
        },
        'backtest',
      );
      const ctx = cliContext();
      const { computeMetrics, loadBundledPrices, loadStocknetPrices, renderMarkdownSummary, renderNewsComparison, runBacktest, writeBacktestReport } =
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

      const bar = progressBar(
        `backtest ${args.from}..${args.to} (${args.critic}${args.news ? ', news' : ''}${args.engine === 'sessions' ? ', sessions' : ''})`,
      );
      const started = performance.now();
      const engine = args.engine === 'sessions' ? (await import('../../evals/backtest/session-replay.ts')).runSessionBacktest : runBacktest;
      const replay = (news: NewsArchive | undefined, cfg: Config = config, memory?: { embedder: Embedder }): ReturnType<typeof runBacktest> =>
        engine({
          config: cfg,
          memory,
          data,
          from: args.from,
          to: args.to,
          critic: args.critic,
          backend,
          news,
          settings: {
            ...(args.proposalsPerDay !== undefined ? { proposalsPerDay: args.proposalsPerDay } : {}),
            ...(args.retrainEvery !== undefined ? { retrainEveryDays: args.retrainEvery } : {}),
            ...(args.minTrainDays !== undefined ? { minTrainDays: args.minTrainDays } : {}),
            ...(args.holdingDays !== undefined ? { holdingDays: args.holdingDays } : {}),
            ...(args.commissionBps !== undefined ? { commissionBps: args.commissionBps } : {}),
            ...(args.slippageBps !== undefined ? { slippageBps: args.slippageBps } : {}),
            ...(args.initialEquity !== undefined ? { initialEquity: args.initialEquity } : {}),
            ...(args.promotion !== undefined ? { promotion: args.promotion } : {}),
            ...(args.breakers ? { circuitBreakers: true } : {}),
          },
          onProgress: (p) => bar.update(p.done, p.total),
        });
      const ablation = await import('../../evals/backtest/ablation.ts');
      type Run = Awaited<ReturnType<typeof runBacktest>>;
      // --memory: the committee with outcome memory, and the same backtest without it to compare.
      const memory = args.memory ? { embedder: await (await import('../../rag/index.ts')).createEmbedder(config) } : undefined;
      type Runs = { run: Run; ablated: Array<{ role: AgentRole; run: Run }>; withoutMemory: Run | null };
      const all = async (news: NewsArchive | undefined): Promise<Runs> => {
        const withoutMemory = memory ? await replay(news, config, undefined) : null;
        if (!args.ablate) return { run: await replay(news, config, memory), ablated: [], withoutMemory };
        const misses =
          cassetteBackend?.mode === 'replay' ? { list: () => cassetteBackend?.misses ?? [], source: `cassette ${args.cassette ?? ''}` } : undefined;
        const { full, without } = await ablation.runAblations(config, (cfg) => replay(news, cfg, memory), misses);
        return { run: full, ablated: without, withoutMemory };
      };
      let runs: Runs;
      // --news-ablation: the same days, models and backend without the news (after the run with it).
      let newsRemovedRun: Run | null = null;
      try {
        runs = args.news ? await withDb(ctx, async (db) => all(await storedNews(db, ctx.config))) : await all(undefined);
        if (args.newsAblation) newsRemovedRun = await replay(undefined, config, memory);
      } finally {
        bar.stop();
        if (cassetteBackend?.close) await cassetteBackend.close();
      }
      const { run, ablated, withoutMemory } = runs;
      if (cassetteBackend) {
        const calls = cassetteBackend.hits + cassetteBackend.misses.length;
        if (cassetteBackend.mode === 'replay' && cassetteBackend.misses.length > 0) {
          for (const r of [run, newsRemovedRun]) {
            r?.result.notes.push(
              `Replay: ${cassetteBackend.misses.length} of ${calls} LLM requests were not in the cassette; those agents abstained (a committee that abstains vetoes the proposal).`,
            );
          }
          const first = cassetteBackend.misses[0];
          const where = first ? ` (first: ${first.role}${first.asOf ? ` on ${first.asOf.slice(0, 10)}` : ''}${first.ticker ? ` ${first.ticker}` : ''})` : '';
          process.stderr.write(`quorum backtest: ${cassetteBackend.misses.length} cassette miss(es)${where}: the replay is not the recorded run\n`);
        }
        if (cassetteBackend.mode === 'record' && args.cassette) writeCassette(args.cassette, cassetteBackend.cassette);
      }
      const metricsOptions = { seed: args.seed ?? Math.max(0, seed), resamples: args.resamples };
      const metrics = computeMetrics(run.result, metricsOptions);
      const outDir = args.out ?? path.resolve(config.dataDir, config.settings.sessions.reportsDir);
      const { backtestScorecards } = await import('../../evals/backtest/scorecards.ts');
      const { renderScorecardsMarkdown } = await import('../../evals/scorecards.ts');
      const scorecards = backtestScorecards(run, data, config.settings.training.horizonDays);
      const ablationReport =
        ablated.length > 0
          ? ablation.ablationReport(
              run.result,
              ablated.map((a) => ({ role: a.role, result: a.run.result })),
              metricsOptions,
            )
          : null;
      const memoryReport = withoutMemory ? ablation.memoryComparison(run.result, withoutMemory.result, metricsOptions) : null;
      if (memoryReport) run.result.notes.push(ablation.memoryNote(memoryReport));
      const files = writeBacktestReport(run, metrics, outDir, { scorecards, ablation: ablationReport, memory: memoryReport });
      // The news-removed run's reports go into a subfolder: the same file names, side by side.
      const newsRemoved = newsRemovedRun
        ? { run: newsRemovedRun, metrics: computeMetrics(newsRemovedRun.result, metricsOptions), dir: path.join(outDir, 'news-removed') }
        : null;
      const newsRemovedFiles = newsRemoved ? writeBacktestReport(newsRemoved.run, newsRemoved.metrics, newsRemoved.dir) : null;
      const wallSeconds = (performance.now() - started) / 1000;
      if (opts.json) {
        printJson({
          result: run.result,
          metrics,
          models: run.models,
          timings: run.timings,
          files,
          scorecards,
          ablation: ablationReport,
          memory: memoryReport,
          ...(newsRemoved && newsRemovedFiles
            ? { newsRemoved: { result: newsRemoved.run.result, metrics: newsRemoved.metrics, timings: newsRemoved.run.timings, files: newsRemovedFiles } }
            : {}),
        });
        return;
      }
      process.stdout.write(renderMarkdownSummary(run.result, metrics));
      process.stdout.write(`\n${renderScorecardsMarkdown(scorecards)}`);
      if (ablationReport) process.stdout.write(`\n${ablation.renderAblationMarkdown(ablationReport)}`);
      if (memoryReport) process.stdout.write(`\n${ablation.renderMemoryMarkdown(memoryReport)}`);
      if (newsRemoved && newsRemovedFiles) {
        process.stdout.write(`\n${renderNewsComparison({ result: run.result, metrics }, { result: newsRemoved.run.result, metrics: newsRemoved.metrics })}`);
        process.stdout.write(`news removed: ${newsRemovedFiles.html}\n`);
      }
      process.stdout.write(
        `\nwall time ${wallSeconds.toFixed(1)} s (training ${(run.timings.trainMs / 1000).toFixed(1)} s, proposer ${(run.timings.proposeMs / 1000).toFixed(1)} s, committee ${(run.timings.committeeMs / 1000).toFixed(1)} s for ${run.timings.committeeRuns} runs)\n`,
      );
      process.stdout.write(`report: ${files.html}\njson:   ${files.json}\n`);
    });
}
