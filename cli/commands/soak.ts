import type { Command } from 'commander';
import { z } from 'zod';
import { IsoDate, parseOrThrow } from '../../contracts/index.ts';
import { BackendChoice } from '../../config/index.ts';
import { cliContext, printJson } from '../context.ts';

const SoakArgs = z
  .object({
    from: IsoDate,
    days: z.coerce.number().int().min(1).max(2600),
    seed: z.coerce.number().int().min(0).default(1),
    topN: z.coerce.number().int().min(1).max(100).optional(),
    tickers: z.string().optional(),
    backend: BackendChoice.optional(),
    crashes: z.boolean().default(true),
    json: z.boolean().optional(),
  })
  .strict();

/** `quorum soak`: days of the bundled data on a simulated clock, one injected crash a day, then the invariants. */
export function registerSoak(program: Command): void {
  program
    .command('soak')
    .description(
      'replay trading days of the bundled data on a simulated clock (scheduled sessions, exit monitor, paper exchange fills) with one injected crash a day; exits 1 when an invariant fails',
    )
    .requiredOption('--from <YYYY-MM-DD>', "the first trading day (the bundled data: 1991-03-14..2001-01-02, less the features' warm-up)")
    .requiredOption('--days <n>', 'trading days to replay')
    .option('--seed <n>', 'seeds the crash points', '1')
    .option('--top-n <n>', 'proposals per session (default settings sessions.topN)')
    .option('--tickers <list>', 'comma-separated tickers to propose (default settings market.universe, or every ticker with bars)')
    .option('--backend <name>', 'auto | ollama | llama-cpp | rules (default rules: one seed, one soak)')
    .option('--no-crashes', 'run without injected crashes')
    .option('--json', 'print the report as JSON')
    .action(async (raw: Record<string, unknown>) => {
      const args = parseOrThrow(SoakArgs, raw, 'quorum soak');
      const ctx = cliContext();
      const { runSoak } = await import('../../sessions/soak.ts');
      if (!process.env.QUORUM_SETTINGS__LOGGING__LEVEL) ctx.log.level = 'warn';
      const report = await runSoak({
        config: ctx.config,
        log: ctx.log,
        from: args.from,
        days: args.days,
        seed: args.seed,
        topN: args.topN,
        tickers: args.tickers
          ? args.tickers
              .split(',')
              .map((t) => t.trim().toUpperCase())
              .filter(Boolean)
          : undefined,
        backend: args.backend ?? 'rules',
        crashes: args.crashes,
        onProgress: args.json ? undefined : (m) => void process.stderr.write(`${m}\n`),
      });
      if (args.json) printJson(report);
      else {
        const inv = report.invariants;
        const lines = [
          `soak ${report.from}..${report.to}: ${report.days} trading day(s), seed ${report.seed}, backend ${report.backend}, ${report.database}`,
          `sessions run: ${report.sessions.run} (completed ${report.sessions.completed}, failed ${report.sessions.failed}, skipped ${report.sessions.skipped}, taken over after a crash ${report.sessions.takenOver})`,
          `orders: ${report.orders} (intents ${report.intents})`,
          `fills: ${report.fills}`,
          `exits: ${report.exits} (exit monitor runs ${report.exitMonitorRuns})`,
          `crashes survived: ${report.crashesSurvived} (${report.crashes.map((c) => `${c.day} ${c.point} during ${c.during}`).join('; ') || 'none'})`,
          `double orders: ${inv.doubleOrders}`,
          `double judgements: ${inv.doubleJudgements}`,
          `lost or half-stored records: ${inv.lostTotal}${
            inv.lostTotal
              ? ` (${Object.entries(inv.lost)
                  .filter(([, n]) => n > 0)
                  .map(([k, n]) => `${k} ${n}`)
                  .join(', ')})`
              : ''
          }`,
          `positions equal fills: ${inv.positionsMatchFills}${inv.positionsMatchFills ? '' : ` (${inv.positionDiffs.map((d) => `${d.ticker} exchange=${d.exchange} fills=${d.fills} stored=${d.stored}`).join(', ')})`}`,
          ...report.errors.map((e) => `error: ${e}`),
          `${report.ok ? 'soak: ok' : 'soak: FAILED'} in ${report.seconds.toFixed(1)} s (${report.daysPerSecond.toFixed(3)} days/s)`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!report.ok) process.exitCode = 1;
    });
}
