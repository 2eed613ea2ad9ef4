import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { IsoDate, Ticker } from '../../contracts/common.ts';
import { QuorumError } from '../../contracts/errors.ts';
import { parseOrThrow } from '../../contracts/parse.ts';
import { cliContext, printJson, withDb } from '../context.ts';

const ExportArgs = z
  .object({
    from: IsoDate.optional(),
    to: IsoDate.optional(),
    out: z.string().min(1),
    tickers: z.array(Ticker).optional(),
    features: z.enum(['close', 'all']),
  })
  .strict()
  .refine((a) => !a.from || !a.to || a.from <= a.to, { message: '--from is after --to', path: ['from'] });

/** `quorum features export`: the training matrix `quorum train --until TO` builds, as CSV. */
export function registerFeatures(program: Command): void {
  const features = program.command('features').description('point-in-time features');
  features
    .command('export')
    .description('write the exact training matrix of `quorum train` (features, label, forward return, date, ticker, feature-set version) as CSV')
    .requiredOption('--out <file>', 'CSV file to write')
    .option('--from <date>', 'first sample date (YYYY-MM-DD; default: the first)')
    .option('--to <date>', 'bars up to this close only, as `quorum train --until` (YYYY-MM-DD; default: every bar)')
    .option('--tickers <list>', 'comma-separated tickers (default: every ticker with bars)')
    .option('--features <set>', 'close | all (as quorum train --features)', 'close')
    .option('--json', 'print what was written as JSON')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const args = parseOrThrow(
        ExportArgs,
        {
          from: opts.from,
          to: opts.to,
          out: opts.out,
          tickers: typeof opts.tickers === 'string' ? opts.tickers.split(',').map((s) => s.trim()) : undefined,
          features: opts.features,
        },
        'features export',
      );
      const ctx = cliContext();
      const { barCoverage, dailyBarTs } = await import('../../market/index.ts');
      const { CLOSE_FEATURES, FEATURE_NAMES, buildDataset, trainingMatrixCsv } = await import('../../ml/index.ts');
      const t = ctx.config.settings.training;
      const names = args.features === 'all' ? FEATURE_NAMES : CLOSE_FEATURES;
      const asOf = args.to ? dailyBarTs(args.to) : null;
      const samples = await withDb(ctx, async (db) => {
        const tickers = args.tickers ?? (await barCoverage(db)).map((c) => c.ticker);
        if (tickers.length === 0) throw new QuorumError('INPUT_INVALID', 'no bars stored: run `quorum ingest prices` first', { field: 'tickers' });
        const all = await buildDataset(db, {
          tickers,
          features: names,
          horizonDays: t.horizonDays,
          labelThreshold: t.labelThreshold,
          ...(asOf ? { asOf } : {}),
        });
        return args.from ? all.filter((s) => s.date >= (args.from ?? '')) : all;
      });
      if (samples.length === 0)
        throw new QuorumError('INPUT_INVALID', 'no labelled samples in that window (features need their warm-up, labels the horizon)', { field: 'from' });
      const out = path.resolve(args.out);
      writeFileSync(out, trainingMatrixCsv(samples, { features: names, horizonDays: t.horizonDays, labelThreshold: t.labelThreshold, asOf }));
      const summary = { out, rows: samples.length, first: samples[0]?.date ?? null, last: samples.at(-1)?.date ?? null, features: [...names] };
      if (opts.json) {
        printJson(summary);
        return;
      }
      process.stdout.write(`${summary.rows} rows (${summary.first}..${summary.last}), ${names.length} features, written to ${out}\n`);
    });
}
