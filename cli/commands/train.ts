import type { Command } from 'commander';
import path from 'node:path';
import Table from 'cli-table3';
import { z } from 'zod';
import { IsoDate, Ticker } from '../../contracts/common.ts';
import { parseOrThrow } from '../../contracts/parse.ts';
import { PROJECT_ROOT } from '../../config/index.ts';
import type { FoldReport } from '../../ml/index.ts';
// The stage schema only (zod): onnxruntime and the trainer load when the command runs.
import { ModelStage } from '../../ml/registry.ts';
import { cliContext, printJson, withDb } from '../context.ts';
import { tableStyle } from '../table.ts';

const TrainArgs = z
  .object({
    modelId: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case id: letters, digits, . _ -'),
    out: z.string().min(1).optional(),
    fromCsv: z.string().min(1).optional(),
    tickers: z.array(Ticker).optional(),
    features: z.enum(['close', 'all']),
    stage: ModelStage.exclude(['archived']),
    trees: z.coerce.number().int().min(1).max(2000).optional(),
    folds: z.coerce.number().int().min(2).max(20).optional(),
    until: IsoDate.optional(),
  })
  .strict();

const fmt = (v: number | null, d = 3): string => (v === null ? '-' : v.toFixed(d));

/** The per-fold walk-forward table. */
export function foldTable(folds: readonly FoldReport[]): string {
  const table = new Table({
    head: ['fold', 'train', 'test', 'train rows', 'test rows', 'base rate', 'accuracy', 'AUC', 'log loss', 'Brier', 'precision', 'recall'],
    style: tableStyle(),
  });
  for (const f of folds) {
    const m = f.metrics;
    table.push([
      f.fold,
      `${f.trainStart}..${f.trainEnd}`,
      `${f.testStart}..${f.testEnd}`,
      f.trainRows,
      m.n,
      fmt(m.baseRate),
      fmt(m.accuracy),
      fmt(m.auc),
      fmt(m.logLoss, 4),
      fmt(m.brier ?? null, 4),
      fmt(m.precision),
      fmt(m.recall),
    ]);
  }
  return table.toString();
}

/** `quorum train`. */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train the GBT proposer with walk-forward validation, export ONNX + model card, register it')
    .option('--model-id <id>', 'model id', 'gbt-technical')
    .option('--out <dir>', 'output folder (default models/<model-id>/<version>)')
    .option('--from-csv <file>', 'first import this wide price CSV (e.g. data/samples/prices/DowJones30.csv)')
    .option('--tickers <list>', 'comma-separated tickers (default: every ticker with bars)')
    .option('--features <set>', 'close (close-only features) | all (adds volume and range features, needs OHLCV)', 'close')
    .option(
      '--stage <stage>',
      'staging: production only if not worse by settings retrain.promotion | research: register only | production: promote by hand',
      'staging',
    )
    .option('--trees <n>', 'override settings.training.trees (and skip the hyper-parameter search)')
    .option('--folds <n>', 'override settings.training.folds')
    .option('--until <date>', 'train on bars up to this date only (YYYY-MM-DD, its close): later days stay out of sample')
    .option(
      '--json',
      'print {card, promotion} as JSON: the model card and the promotion decision (null with --stage research, or a version already in production)',
    )
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const args = parseOrThrow(
        TrainArgs,
        {
          modelId: opts.modelId,
          out: opts.out,
          fromCsv: opts.fromCsv,
          tickers: typeof opts.tickers === 'string' ? opts.tickers.split(',').map((s) => s.trim()) : undefined,
          features: opts.features,
          stage: opts.stage,
          trees: opts.trees,
          folds: opts.folds,
          until: opts.until,
        },
        'train',
      );
      const ctx = cliContext();
      const { ingestPriceCsv } = await import('../../market/index.ts');
      const { retrain } = await import('../../ml/index.ts');
      const settings = ctx.config.settings;
      const training = {
        ...settings.training,
        // Trees given by hand: those trees, no search over the grid.
        ...(args.trees ? { trees: args.trees, search: { ...settings.training.search, candidates: 0 }, earlyStoppingRounds: null } : {}),
        ...(args.folds ? { folds: args.folds } : {}),
      };
      const reproduce = ['node bin/quorum.js train', ...process.argv.slice(3)].join(' ');
      const { trained: result, decision } = await withDb(ctx, async (db) => {
        if (args.fromCsv) await ingestPriceCsv(db, args.fromCsv);
        ctx.log.info({ modelId: args.modelId }, 'training');
        return retrain(db, {
          training,
          promotion: settings.retrain.promotion,
          modelId: args.modelId,
          outDir: args.out ?? path.join(PROJECT_ROOT, 'models', args.modelId),
          versionDir: args.out === undefined,
          features: args.features,
          stage: args.stage,
          actor: 'train',
          reproduce,
          ...(args.until ? { until: args.until } : {}),
          ...(args.tickers ? { tickers: args.tickers } : {}),
        });
      });
      const verdict = decision
        ? `${decision.decision === 'promoted' ? 'promoted to production' : 'stays in staging (refused)'}: ${decision.reason}`
        : `registered as ${args.stage}`;
      if (opts.json) {
        printJson({ card: result.card, promotion: decision });
        process.stderr.write(`model ${result.card.modelId}@${result.card.version} ${verdict}\n`);
        return;
      }
      const c = result.card;
      process.stdout.write(`walk-forward (${training.folds} folds, expanding window, purge ${training.horizonDays} days), ${result.samples} samples:\n`);
      process.stdout.write(`${foldTable(c.metrics?.folds ?? [])}\n`);
      const imp = Object.entries(c.featureImportance).sort((a, b) => b[1] - a[1]);
      process.stdout.write(`feature importance: ${imp.map(([f, v]) => `${f} ${v.toFixed(3)}`).join(', ')}\n`);
      if (c.search) {
        const ch = c.search.chosen;
        process.stdout.write(
          `search: ${c.search.candidates.length} candidate(s) on fold ${c.search.validation.fold} (seed ${c.search.seed}); chosen depth ${ch.maxDepth}, learning rate ${ch.learningRate}, ${ch.bestTrees} of ${ch.trees} trees (validation log loss ${ch.validationLogLoss.toFixed(4)})\n`,
        );
      }
      if (c.calibration) {
        const k = c.calibration;
        process.stdout.write(
          `calibration ${k.map.method} on ${k.fittedOn.rows} out-of-fold rows: Brier ${k.brierRaw.toFixed(4)} -> ${k.brierCalibrated.toFixed(4)}\n`,
        );
      }
      process.stdout.write(`model ${c.modelId}@${c.version} sha256 ${c.sha256}\n  ${result.onnxPath}\n  ${result.cardPath}\n`);
      process.stdout.write(`${verdict}\n`);
    });
}
