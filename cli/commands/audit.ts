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
      // The read model alone: the sessions/ barrel would load the committee and LangGraph as well.
      const { auditChainForOrder } = await import('../../sessions/audit-chain.ts');
      const chain = await withDb(ctx, (db) => auditChainForOrder(db, orderId));
      if (!chain) throw new QuorumError('NOT_FOUND', `no order ${orderId}`);
      if (opts.json) {
        printJson(chain);
        return;
      }
      const { order, intent, riskDecision: rd, verdict, committeeRun: run, proposal, model, featureSnapshot } = chain;
      line('order', `${order.id} ${order.side} ${order.qty} ${order.ticker} ${order.status}`);
      line('intent', intent?.client_order_id);
      line('risk decision', rd && `${rd.id} ${rd.action} qty ${rd.final_qty}/${rd.requested_qty}`);
      for (const r of rd?.ruleResults ?? []) process.stdout.write(`  ${r.passed ? 'pass' : 'FAIL'} ${r.detail}\n`);
      line('verdict', verdict && `${verdict.id} ${verdict.decision} x${verdict.size_multiplier} (${verdict.backend}, prompt ${verdict.prompt_version})`);
      line('committee run', run && `${run.id} ${run.messages.length} message(s), ${run.toolCalls.length} tool call(s)`);
      line('news retrieved', chain.retrievals.length);
      line('proposal', proposal && `${proposal.id} ${proposal.side} ${proposal.ticker} p=${proposal.probability} as of ${proposal.as_of}`);
      line('model', model && `${model.id}@${model.version} (${model.stage}, sha256 ${model.sha256.slice(0, 12)})`);
      line('features', featureSnapshot?.id);
      process.stdout.write(chain.missing.length ? `missing links: ${chain.missing.join(', ')}\n` : 'every link present\n');
    });
}
