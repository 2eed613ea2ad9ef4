import type { Command } from 'commander';
import { z } from 'zod';
import { IsoDate, parseOrThrow } from '../../contracts/index.ts';
import { BackendChoice, DEFAULT_DEMO_DATE } from '../../config/index.ts';
import { cliContext, printJson } from '../context.ts';
import { progressBar } from '../progress.ts';

const DemoArgs = z.object({ date: IsoDate, backend: BackendChoice.optional(), json: z.boolean().optional() }).strict();

/** `quorum demo`: one whole committee session on the embedded defaults. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run one whole committee session on the embedded defaults (bundled data, PGlite, in-process paper exchange)')
    .option(
      '--date <YYYY-MM-DD>',
      "a trading day of the bundled Dow 30 data: 1991-03-14..2001-01-02 (bars from 1990-12-31, less the features' warm-up)",
      DEFAULT_DEMO_DATE,
    )
    .option('--backend <name>', 'auto | ollama | llama-cpp | rules (default auto: Ollama when reachable, else the rules baseline)')
    .option('--json', 'print the stored session as JSON')
    .action(async (raw: { date: string; backend?: string; json?: boolean }) => {
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
        date: args.date,
        backend: args.backend,
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
      if (result.reportHtml) process.stdout.write(`report: ${result.reportHtml}\n        ${result.reportMarkdown ?? ''}\n`);
      process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    });
}
