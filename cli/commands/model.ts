import type { Command } from 'commander';
import path from 'node:path';
import Table from 'cli-table3';
import { z } from 'zod';
import { IsoDate, IsoDateTime, Ticker } from '../../contracts/common.ts';
import { QuorumError } from '../../contracts/errors.ts';
import { parseOrThrow } from '../../contracts/parse.ts';
import { PROJECT_ROOT } from '../../config/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';
import { tableStyle } from '../table.ts';

const DriftArgs = z
  .object({
    asOf: z.union([IsoDate, IsoDateTime]).optional(),
    tickers: z.array(Ticker).optional(),
    card: z.string().min(1).optional(),
  })
  .strict();

const PromoteArgs = z
  .object({
    modelId: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected ID@VERSION, e.g. gbt-technical@0123456789ab'),
    version: z.string().min(1, 'expected ID@VERSION, e.g. gbt-technical@0123456789ab'),
    reason: z.string().min(1).max(500),
  })
  .strict();

const OverrideArgs = z
  .object({
    reason: z.string().trim().min(1).max(500),
    modelId: z.string().min(1).optional(),
    modelVersion: z.string().min(1).optional(),
    card: z.string().min(1).optional(),
    by: z.string().trim().min(1).max(100),
    revoke: z.boolean().optional(),
    json: z.boolean().optional(),
  })
  .strict();

/** `quorum model drift | list | promote | override`: drift against the card's training sample; the registry, its promotions and health overrides. */
export function registerModel(program: Command): void {
  const model = program.command('model').description('model governance');
  model
    .command('drift')
    .description("PSI and KS of recent features and predictions against the card's training sample, and the model's health score")
    .option('--as-of <date>', 'YYYY-MM-DD or an ISO timestamp (default: the latest stored bar)')
    .option('--tickers <list>', 'comma-separated tickers (default: settings.market.universe, else every ticker with bars)')
    .option('--card <path>', 'model card (default models.yaml proposer.cardPath)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { asOf?: string; tickers?: string; card?: string; json?: boolean }) => {
      const args = parseOrThrow(DriftArgs, { asOf: opts.asOf, tickers: opts.tickers?.split(',').map((s) => s.trim()), card: opts.card }, 'model drift');
      const ctx = cliContext();
      const { barCoverage, dailyBarTs } = await import('../../market/index.ts');
      const { loadProposer } = await import('../../ml/index.ts');
      const { driftReport, recentFeatureRows } = await import('../../ml/drift.ts');
      const proposer = await loadProposer(path.resolve(PROJECT_ROOT, args.card ?? ctx.config.models.proposer.cardPath));
      const settings = ctx.config.settings;
      const report = await withDb(ctx, async (db) => {
        const coverage = await barCoverage(db);
        if (coverage.length === 0) throw new QuorumError('NOT_FOUND', 'no bars stored: run `quorum ingest prices` first', { field: 'asOf' });
        const latest =
          coverage
            .map((c) => c.last)
            .sort()
            .at(-1) ?? '';
        const asOf = args.asOf === undefined ? new Date(latest).toISOString() : /^\d{4}-\d{2}-\d{2}$/.test(args.asOf) ? dailyBarTs(args.asOf) : args.asOf;
        const universe = settings.market.universe;
        const tickers = args.tickers ?? (universe.length ? universe : coverage.map((c) => c.ticker));
        const recent = await recentFeatureRows(db, { asOf, tickers, features: proposer.card.input.features, windowDays: settings.drift.windowDays });
        return driftReport({ proposer, recent, asOf, drift: settings.drift, abstainMargin: settings.proposer.abstainMargin });
      });
      await proposer.session.release();
      if (opts.json) {
        printJson(report);
        return;
      }
      const table = new Table({ head: ['feature', 'PSI', 'KS', 'drifted'], style: tableStyle() });
      for (const f of report.features) table.push([f.feature, f.psi.toFixed(3), f.ks.toFixed(3), f.drifted ? 'yes' : '']);
      table.push([
        '(predictions)',
        report.prediction.psi.toFixed(3),
        report.prediction.ks.toFixed(3),
        report.prediction.psi >= settings.drift.psiAlert ? 'yes' : '',
      ]);
      process.stdout.write(`${table.toString()}\n`);
      process.stdout.write(
        `model ${report.modelId}@${report.modelVersion} at ${report.asOf}: ${report.recentRows} recent rows (from ${report.windowStart}) vs ${report.referenceRows} training rows; ` +
          `abstain rate ${(report.abstainRate * 100).toFixed(1)}%, mean p ${report.prediction.meanRecent.toFixed(3)} (training ${report.prediction.meanReference.toFixed(3)})\n`,
      );
      process.stdout.write(
        `health score ${report.healthScore.toFixed(3)} (threshold ${settings.drift.minHealthScore}): ${report.healthy ? 'healthy' : `UNHEALTHY: ${report.reasons.join('; ')}`}\n`,
      );
    });

  model
    .command('list')
    .description('registered model versions with their stage, and the latest promotion decisions (who, why, metrics)')
    .option('--model-id <id>', 'only this model id')
    .option('--json', 'print { models, promotions } as JSON')
    .action(async (opts: { modelId?: string; json?: boolean }) => {
      const ctx = cliContext();
      const { listModels, listPromotions } = await import('../../ml/index.ts');
      const { models, promotions } = await withDb(ctx, async (db) => ({
        models: (await listModels(db)).filter((m) => !opts.modelId || m.id === opts.modelId),
        promotions: await listPromotions(db, { ...(opts.modelId ? { modelId: opts.modelId } : {}), limit: 20 }),
      }));
      if (opts.json) {
        printJson({ models, promotions });
        return;
      }
      const table = new Table({ head: ['model', 'version', 'stage', 'created', 'card'], style: tableStyle() });
      for (const m of models) table.push([m.id, m.version, m.stage, m.createdAt, path.relative(process.cwd(), m.path) || m.path]);
      process.stdout.write(`${table.toString()}\n`);
      if (models.length === 0) process.stdout.write('no registered models: run `quorum train`\n');
      if (promotions.length > 0) {
        const decisions = new Table({
          head: ['at', 'model', 'candidate', 'production', 'decision', 'by', 'why'],
          style: tableStyle(),
          colWidths: [26, 16, 14, 14, 10, 24, 60],
          wordWrap: true,
        });
        for (const d of promotions)
          decisions.push([d.at ?? '', d.modelId, d.candidateVersion, d.productionVersion ?? '-', d.decision, `${d.actor} (${d.who})`, d.reason]);
        process.stdout.write(`promotion decisions, newest first:\n${decisions.toString()}\n`);
      }
    });

  model
    .command('promote')
    .description('move a registered version to production by hand (the previous production version is archived); audited')
    .argument('<model>', 'ID@VERSION (see quorum model list)')
    .option('--reason <text>', 'why (kept in the audit)', 'promoted by hand')
    .option('--json', 'print the decision as JSON')
    .action(async (ref: string, opts: { reason: string; json?: boolean }) => {
      const args = parseOrThrow(
        PromoteArgs,
        {
          modelId: ref.includes('@') ? ref.slice(0, ref.indexOf('@')) : ref,
          version: ref.includes('@') ? ref.slice(ref.indexOf('@') + 1) : '',
          reason: opts.reason,
        },
        'model promote',
      );
      const ctx = cliContext();
      const { promoteByHand } = await import('../../ml/index.ts');
      const decision = await withDb(ctx, (db) => promoteByHand(db, args.modelId, args.version, args.reason));
      if (opts.json) {
        printJson(decision);
        return;
      }
      process.stdout.write(
        `model ${decision.modelId}@${decision.candidateVersion} promoted to production${decision.productionVersion ? ` (${decision.productionVersion} archived)` : ''} by ${decision.who}: ${decision.reason}\n`,
      );
    });

  model
    .command('override')
    .description('let a model version trade although its health score is below drift.minHealthScore (audited: who, when, why); --revoke ends it')
    .requiredOption('--reason <text>', 'why (stored with the override and in the audit trail)')
    .option('--model-id <id>', "the model's id (default: the card of models.yaml proposer.cardPath)")
    .option('--model-version <v>', "the model's version (default: the card's)")
    .option('--card <path>', 'model card whose id and version to override (default models.yaml proposer.cardPath)')
    .option('--by <name>', 'who overrides', process.env.USER ?? 'cli')
    .option('--revoke', 'end the override: the next session gates the model by its health again')
    .option('--json', 'print the override as JSON')
    .action(async (opts: Record<string, unknown>) => {
      const args = parseOrThrow(OverrideArgs, opts, 'model override');
      const ctx = cliContext();
      const { overrideModel, readModelCard, revokeModelOverride } = await import('../../ml/index.ts');
      let modelId = args.modelId;
      let modelVersion = args.modelVersion;
      if (modelId === undefined || modelVersion === undefined) {
        const card = readModelCard(path.resolve(PROJECT_ROOT, args.card ?? ctx.config.models.proposer.cardPath));
        if (modelId !== undefined && modelId !== card.modelId)
          throw new QuorumError('INPUT_INVALID', `--model-version: required with --model-id ${modelId} (the card is ${card.modelId})`, {
            field: 'modelVersion',
          });
        modelId = card.modelId;
        modelVersion = modelVersion ?? card.version;
      }
      const input = { modelId, modelVersion, reason: args.reason, actor: `cli:${args.by}` };
      const row = await withDb(ctx, (db) => (args.revoke ? revokeModelOverride(db, input) : overrideModel(db, input)));
      if (args.json) printJson(row);
      else if (args.revoke) process.stdout.write(`override ${row.id} of model ${row.modelId}@${row.modelVersion} revoked by ${row.revokedBy ?? '?'}\n`);
      else process.stdout.write(`model ${row.modelId}@${row.modelVersion} overridden by ${row.actor} at ${row.createdAt}: ${row.reason} (${row.id})\n`);
    });
}
