import type { Command } from 'commander';
import { z } from 'zod';
import { IsoDate, parseOrThrow } from '../../contracts/index.ts';
import { BackendChoice } from '../../config/index.ts';
import { cliContext, printJson } from '../context.ts';
import { progressBar } from '../progress.ts';

const DemoArgs = z
  .object({
    date: IsoDate.optional(),
    backend: BackendChoice.optional(),
    universe: z.enum(['dow30', 'stocknet']),
    newsDays: z.coerce.number().min(0).max(60).optional(),
    json: z.boolean().optional(),
  })
  .strict();

/** `quorum demo`: one whole committee session on the embedded defaults. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run one whole committee session on the embedded defaults (bundled data, PGlite, in-process paper exchange)')
    .option(
      '--date <YYYY-MM-DD>',
      "a trading day of the universe's bundled data: dow30 1991-03-14..2001-01-02 (default 1999-06-01); stocknet 2014-01-02..2014-12-30 (default 2014-04-24)",
    )
    .option('--universe <name>', 'dow30 (1991-2001 closes, 1987 news: news-blind) | stocknet (30 stocks 2013-2014 with real 2014 tweets)', 'dow30')
    .option('--news-days <n>', 'stocknet: days of tweets before the as-of to import (default 2; fractions allowed)')
    .option('--backend <name>', 'auto | ollama | llama-cpp | rules (default auto: Ollama when reachable, else the rules baseline)')
    .option('--json', 'print the stored session as JSON')
    .action(async (raw: { date?: string; backend?: string; universe: string; newsDays?: string; json?: boolean }) => {
      const args = parseOrThrow(DemoArgs, raw, 'quorum demo');
      const ctx = cliContext();
      const { runDemo } = await import('../../sessions/index.ts');
      const { sessionTable } = await import('../session-table.ts');
      // Progress goes to stderr as plain lines; keep the JSON log for warnings unless a level was asked for.
      if (!process.env.QUORUM_SETTINGS__LOGGING__LEVEL) ctx.log.level = 'warn';
      const started = performance.now();
      const bar = progressBar('embedding news');
      const result = await runDemo({
        config: ctx.config,
        log: ctx.log,
        ...(args.date ? { date: args.date } : {}),
        backend: args.backend,
        universe: args.universe,
        ...(args.newsDays !== undefined ? { newsDays: args.newsDays } : {}),
        onProgress: (m) => {
          bar.stop();
          if (!args.json) process.stderr.write(`${m}\n`);
        },
        onEmbedProgress: args.json ? undefined : bar.update,
      }).finally(() => bar.stop());
      if (args.json) {
        printJson(result);
        return;
      }
      process.stdout.write(`\nQuorum demo session ${result.sessionId}${result.created ? '' : ' (already run for this date: showing the stored session)'}\n`);
      process.stdout.write(`as of ${result.report.session.asOf} · database: ${result.database}\n`);
      process.stdout.write(`judged by: ${result.notice}\n`);
      process.stdout.write(sessionTable(result.report));
      const cited = result.report.items.flatMap((i) => i.cited.map((c) => ({ ticker: i.ticker, ...c })));
      if (cited.length > 0) {
        process.stdout.write(`cited news (${cited.length}):\n`);
        for (const c of cited) process.stdout.write(`  ${c.ticker} ${c.id} ${c.publishedAt} ${c.title.replace(/\s+/g, ' ').slice(0, 100)}\n`);
      }
      if (result.reportHtml) process.stdout.write(`report: ${result.reportHtml}\n        ${result.reportMarkdown ?? ''}\n`);
      process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    });
}
