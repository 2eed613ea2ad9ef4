import type { Command } from 'commander';
import { QuorumError } from '../../contracts/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';

function line(label: string, value: unknown): void {
  process.stdout.write(`${label.padEnd(16)} ${value === null || value === undefined ? '(missing)' : String(value)}\n`);
}

/** `quorum audit ORDER_ID`: the whole chain behind an order, from broker order back to the model. */
export function registerAudit(program: Command): void {
  program
    .command('audit <orderId>')
    .description('trace an order (id or client_order_id) back through intent, risk decision, verdict, transcript, news, proposal and model')
    .option('--json', 'print the whole chain as JSON')
    .action(async (orderId: string, opts: { json?: boolean }) => {
      const ctx = cliContext();
      const { auditChainForOrder } = await import('../../api/read-models.ts');
      const chain = await withDb(ctx, (db) => auditChainForOrder(db, orderId));
      if (!chain) throw new QuorumError('NOT_FOUND', `no order ${orderId}`);
      if (opts.json) {
        printJson(chain);
        return;
      }
      const pick = (k: string): Record<string, unknown> | null => (chain[k] as Record<string, unknown> | null) ?? null;
      const order = pick('order');
      const rd = pick('riskDecision');
      const verdict = pick('verdict');
      const run = pick('committeeRun');
      const proposal = pick('proposal');
      const model = pick('model');
      line('order', order && `${String(order.id)} ${String(order.side)} ${String(order.qty)} ${String(order.ticker)} ${String(order.status)}`);
      line('intent', pick('intent')?.client_order_id);
      line('risk decision', rd && `${String(rd.id)} ${String(rd.action)} qty ${String(rd.final_qty)}/${String(rd.requested_qty)}`);
      for (const r of (rd?.ruleResults as Array<{ rule: string; passed: boolean; detail: string }> | undefined) ?? []) {
        process.stdout.write(`  ${r.passed ? 'pass' : 'FAIL'} ${r.detail}\n`);
      }
      line('verdict', verdict && `${String(verdict.id)} ${String(verdict.decision)} x${String(verdict.size_multiplier)} (${String(verdict.backend)}, prompt ${String(verdict.prompt_version)})`);
      line('committee run', run && `${String(run.id)} ${(run.messages as unknown[]).length} message(s), ${(run.toolCalls as unknown[]).length} tool call(s)`);
      line('news retrieved', (chain.retrievals as unknown[]).length);
      line('proposal', proposal && `${String(proposal.id)} ${String(proposal.side)} ${String(proposal.ticker)} p=${String(proposal.probability)} as of ${String(proposal.as_of)}`);
      line('model', model && `${String(model.id)}@${String(model.version)} (${String(model.stage)}, sha256 ${String(model.sha256).slice(0, 12)})`);
      line('features', pick('featureSnapshot')?.id);
      const missing = chain.missing as string[];
      process.stdout.write(missing.length ? `missing links: ${missing.join(', ')}\n` : 'every link present\n');
    });
}
