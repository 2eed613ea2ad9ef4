import type { Command } from 'commander';
import Table from 'cli-table3';
import { cliContext, printJson } from '../context.ts';
import { tableStyle } from '../table.ts';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check what is real and what falls back to an embedded default')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { json?: boolean }) => {
      const ctx = cliContext();
      const { doctorExitCode, runDoctor } = await import('../doctor.ts');
      const checks = await runDoctor(ctx.config);
      const code = doctorExitCode(checks);
      if (opts.json) {
        printJson({ ok: code === 0, checks });
      } else {
        const table = new Table({ head: ['part', 'status', 'detail'], wordWrap: true, colWidths: [14, 10, 80], style: tableStyle() });
        for (const c of checks) table.push([c.part, c.status, c.detail]);
        process.stdout.write(`${table.toString()}\n`);
        const warnings = checks.filter((c) => !c.required && c.status !== 'real' && c.status !== 'embedded');
        // The table wraps; say each fallback and problem again on one plain line.
        for (const c of checks.filter((x) => x.status !== 'real')) process.stdout.write(`- ${c.part}: ${c.detail}\n`);
        if (code !== 0) process.stdout.write('doctor: a required part is missing or failing (see above)\n');
        else if (warnings.length) process.stdout.write(`doctor: ok, with ${warnings.length} warning(s): ${warnings.map((w) => w.part).join(', ')}\n`);
        else process.stdout.write('doctor: ok\n');
      }
      process.exitCode = code;
    });
}
