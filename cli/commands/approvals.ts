import type { Command } from 'commander';
import { z } from 'zod';
import { parseOrThrow } from '../../contracts/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';

const Status = z.enum(['pending', 'approved', 'rejected', 'all']);
const Answer = z.object({ reason: z.string().trim().min(1).max(1000), by: z.string().min(1).max(200) }).strict();

/** `quorum approvals [list] | approve ID | reject ID`: the human step of execution.requireApproval. */
export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('orders waiting for a human (execution.requireApproval)');
  approvals
    .command('list', { isDefault: true })
    .description('list approvals (default: pending)')
    .option('--status <status>', 'pending | approved | rejected | all', 'pending')
    .action(async (opts: { status: string }) => {
      const status = parseOrThrow(Status, opts.status, 'quorum approvals list --status');
      const ctx = cliContext();
      const { listApprovals } = await import('../../execution/index.ts');
      printJson(await withDb(ctx, (db) => listApprovals({ db }, status)));
    });
  for (const verb of ['approve', 'reject'] as const) {
    approvals
      .command(`${verb} <id>`)
      .description(`${verb} a pending order; its run resumes from the checkpoint`)
      .requiredOption('--reason <text>', 'why (stored with the decision)')
      .option('--by <name>', 'who decides', process.env.USER ?? 'cli')
      .action(async (id: string, opts: { reason?: string; by?: string }) => {
        const answer = parseOrThrow(Answer, { reason: opts.reason, by: opts.by }, `quorum approvals ${verb}`);
        const ctx = cliContext();
        const { openDb } = await import('../../db/index.ts');
        const { answerApproval, buildSessionEnv } = await import('../../sessions/index.ts');
        const db = await openDb(ctx.config);
        const built = await buildSessionEnv(db, ctx.config, ctx.log);
        try {
          const out = await answerApproval(built.env, id, { approve: verb === 'approve', reason: answer.reason, by: `cli:${answer.by}` });
          printJson({ id, status: out.status, decision: out.decision?.id ?? null, order: out.order });
        } finally {
          await built.close();
          await db.close();
        }
      });
  }
}
