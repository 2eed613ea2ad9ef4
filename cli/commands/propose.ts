import type { Command } from 'commander';
import path from 'node:path';
import Table from 'cli-table3';
import { z } from 'zod';
import { IsoDate, IsoDateTime, Ticker } from '../../contracts/common.ts';
import { parseOrThrow } from '../../contracts/parse.ts';
import { PROJECT_ROOT } from '../../config/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';
import { tableStyle } from '../table.ts';

const ProposeArgs = z
  .object({
    asOf: z.union([IsoDate, IsoDateTime]),
    tickers: z.array(Ticker).optional(),
    card: z.string().min(1).optional(),
  })
  .strict();

/** `quorum propose --as-of DATE`. */
export function registerPropose(program: Command): void {
  program
    .command('propose')
    .description('score tickers with the ONNX proposer at a point in time and store the proposals')
    .requiredOption('--as-of <date>', 'YYYY-MM-DD (that session close, 16:00 New York) or an ISO timestamp')
    .option('--tickers <list>', 'comma-separated tickers (default: settings.market.universe, else every ticker with bars)')
    .option('--card <path>', 'model card (default models.yaml proposer.cardPath)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { asOf?: string; tickers?: string; card?: string; json?: boolean }) => {
      const args = parseOrThrow(ProposeArgs, { asOf: opts.asOf, tickers: opts.tickers?.split(',').map((s) => s.trim()), card: opts.card }, 'propose');
      const ctx = cliContext();
      const { barCoverage, dailyBarTs } = await import('../../market/index.ts');
      const { checkProposalDate, loadProposer, propose, proposerCardPath } = await import('../../ml/index.ts');
      const asOf = /^\d{4}-\d{2}-\d{2}$/.test(args.asOf) ? dailyBarTs(args.asOf) : args.asOf;
      const { result, proposer } = await withDb(ctx, async (db) => {
        // Without --card: the production version of the configured model when the registry has one.
        const configured = path.resolve(PROJECT_ROOT, ctx.config.models.proposer.cardPath);
        const cardPath = args.card ? path.resolve(PROJECT_ROOT, args.card) : await proposerCardPath(db, configured);
        const proposer = await loadProposer(cardPath);
        // One ticker: its own bars count; several: every stored bar.
        await checkProposalDate(db, asOf, {
          purpose: 'propose',
          field: 'asOf',
          label: '--as-of',
          ...(args.tickers?.length === 1 ? { ticker: args.tickers[0] } : {}),
        });
        const universe = ctx.config.settings.market.universe;
        const tickers = args.tickers ?? (universe.length ? universe : (await barCoverage(db)).map((c) => c.ticker));
        try {
          return { result: await propose(db, { asOf, tickers, proposer, settings: ctx.config.settings }), proposer };
        } catch (error) {
          await proposer.session.release();
          throw error;
        }
      });
      await proposer.session.release();
      if (opts.json) {
        printJson(result);
        return;
      }
      const table = new Table({ head: ['ticker', 'side', 'p', 'exp. return', 'horizon', 'top attributions'], style: tableStyle() });
      for (const p of result.proposals) {
        table.push([
          p.ticker,
          p.side,
          p.probability.toFixed(3),
          `${(p.expectedReturn * 100).toFixed(2)}%`,
          `${p.horizonDays}d`,
          p.attributions
            .slice(0, 3)
            .map((a) => `${a.feature} ${a.contribution >= 0 ? '+' : ''}${a.contribution.toFixed(3)}`)
            .join(', '),
        ]);
      }
      process.stdout.write(`${table.toString()}\n`);
      process.stdout.write(
        `${result.proposals.length} proposal(s) at ${asOf} by ${proposer.card.modelId}@${proposer.card.version}, feature snapshot ${result.featureSnapshotId}; ` +
          `${result.abstained.length} abstained (|p-0.5| <= ${ctx.config.settings.proposer.abstainMargin}), ${result.skipped.length} skipped\n`,
      );
      for (const s of result.skipped) process.stdout.write(`  skipped ${s.ticker}: ${s.reason}\n`);
    });
}
