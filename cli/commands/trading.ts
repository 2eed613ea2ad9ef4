import type { Command } from 'commander';
import Table from 'cli-table3';
import { z } from 'zod';
import { QuorumError, fieldIssues, formatIssues } from '../../contracts/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';
import { tableStyle } from '../table.ts';

/** `quorum halt` and `quorum resume`: the manual kill switch (audited). */
export function registerTradingState(program: Command): void {
  program
    .command('halt')
    .description('HALT trading: every new order is denied (cancels still go through)')
    .requiredOption('--reason <text>', 'why (stored in the audit trail)')
    .option('--model <id>', 'halt one model only: its proposals send no order, the rest of the book trades on')
    .option('--json', 'print the new state as JSON')
    .action(async (opts: { reason: string; model?: string; json?: boolean }) => {
      const ctx = cliContext();
      const { haltModel, setTradingState } = await import('../../execution/index.ts');
      if (opts.model !== undefined) {
        const model = opts.model;
        const halted = await withDb(ctx, (db) => haltModel(db, model, `manual: ${opts.reason}`, 'cli'));
        if (opts.json) printJson({ haltedModels: halted });
        else process.stdout.write(`model ${model} HALTED (manual: ${opts.reason.trim()}); halted models: ${halted.map((h) => h.modelId).join(', ')}\n`);
        return;
      }
      const state = await withDb(ctx, (db) => setTradingState(db, 'HALTED', `manual: ${opts.reason}`, 'cli'));
      if (opts.json) printJson(state);
      else process.stdout.write(`trading ${state.state} (${state.reason})\n`);
    });
  program
    .command('resume')
    .description('resume trading (ACTIVE) after a halt')
    .requiredOption('--reason <text>', 'why (stored in the audit trail)')
    .option('--reducing', 'resume in REDUCING (only orders that reduce exposure)')
    .option('--model <id>', 'resume one halted model (the global state is left as it is)')
    .option('--json', 'print the new state as JSON')
    .action(async (opts: { reason: string; reducing?: boolean; model?: string; json?: boolean }) => {
      const ctx = cliContext();
      const { resumeModel, setTradingState } = await import('../../execution/index.ts');
      if (opts.model !== undefined) {
        if (opts.reducing) throw new QuorumError('INPUT_INVALID', '--reducing: applies to the global state, not to --model', { field: 'reducing' });
        const model = opts.model;
        const halted = await withDb(ctx, (db) => resumeModel(db, model, `manual: ${opts.reason}`, 'cli'));
        if (opts.json) printJson({ haltedModels: halted });
        else
          process.stdout.write(`model ${model} resumed (manual: ${opts.reason.trim()}); halted models: ${halted.map((h) => h.modelId).join(', ') || 'none'}\n`);
        return;
      }
      const state = await withDb(ctx, (db) => setTradingState(db, opts.reducing ? 'REDUCING' : 'ACTIVE', `manual: ${opts.reason}`, 'cli'));
      if (opts.json) printJson(state);
      else process.stdout.write(`trading ${state.state} (${state.reason})\n`);
    });
}

/** `quorum positions`: positions derived from stored fills, and the kill switch. */
export function registerPositions(program: Command): void {
  program
    .command('positions')
    .description('positions derived from stored fills, with the trading state')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const ctx = cliContext();
      const { getTradingState, loadPositions, readBreakerStatus } = await import('../../execution/index.ts');
      const { positions, state, breakers } = await withDb(ctx, async (db) => ({
        positions: await loadPositions(db),
        state: await getTradingState(db),
        breakers: await readBreakerStatus(db, ctx.config),
      }));
      if (opts.json) {
        printJson({ tradingState: state, breakers, positions });
        return;
      }
      process.stdout.write(`trading ${state.state} (${state.reason})\n`);
      const b = breakers.breaker;
      process.stdout.write(
        b.state === 'REDUCING'
          ? `circuit breaker: REDUCING (${b.rules
              .filter((r) => !r.passed)
              .map((r) => r.rule)
              .join(', ')}: ${b.reason}; ${breakers.closedTrades} closed trades): new orders may only reduce positions\n`
          : `circuit breakers: not tripped (${breakers.closedTrades} closed trades, ${b.consecutiveLosses} losses in a row, hit rate ${b.hitRate === null ? 'n/a' : b.hitRate.toFixed(3)})\n`,
      );
      for (const m of breakers.killedModels) {
        const h = breakers.haltedModels.find((x) => x.modelId === m);
        process.stdout.write(`model ${m} HALTED (${h ? `${h.reason}, by ${h.actor} at ${h.haltedAt}` : 'settings.yaml circuitBreakers.killedModels'})\n`);
      }
      if (positions.length === 0) {
        process.stdout.write('no positions\n');
        return;
      }
      const table = new Table({ head: ['ticker', 'qty', 'avg price', 'opened'], style: tableStyle() });
      for (const p of positions) table.push([p.ticker, String(p.qty), p.avgPrice.toFixed(4), p.openedAt]);
      process.stdout.write(`${table.toString()}\n`);
    });
}

const STATUSES = ['pending', 'submitted', 'unknown', 'accepted', 'rejected', 'filled', 'canceled'] as const;
const OrdersOptions = z.object({
  status: z.enum(STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(50),
  json: z.boolean().optional(),
});

/** `quorum orders`: order intents and what the broker made of them, newest first. */
export function registerOrders(program: Command): void {
  program
    .command('orders')
    .description('order intents and their broker orders with their bracket legs (stop, target), newest first')
    .option('--status <status>', `only intents in this status (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print as JSON')
    .action(async (raw: unknown) => {
      const parsed = OrdersOptions.safeParse(raw);
      if (!parsed.success) {
        throw new QuorumError('INPUT_INVALID', `orders: ${formatIssues(fieldIssues(parsed.error).map((i) => ({ ...i, path: `--${i.path}` })))}`);
      }
      const opts = parsed.data;
      const ctx = cliContext();
      const { listIntents } = await import('../../execution/index.ts');
      const rows = await withDb(ctx, (db) => listIntents(db, { status: opts.status, limit: opts.limit }));
      if (opts.json) {
        printJson(rows);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no orders\n');
        return;
      }
      const table = new Table({
        head: ['client_order_id', 'ticker', 'side', 'qty', 'intent', 'broker', 'filled', 'avg', 'created (legs: updated)'],
        style: tableStyle(),
      });
      for (const r of rows) {
        table.push([
          r.client_order_id,
          r.ticker,
          r.side,
          String(r.qty),
          r.intent_status,
          r.order_status ?? '-',
          String(r.filled_qty ?? 0),
          r.filled_avg_price?.toFixed(4) ?? '-',
          r.created_at,
        ]);
        // A bracket's legs under their entry: a stop or target that filled is what closed the position.
        for (const l of r.legs) {
          const leg = l.order_type === 'limit' ? 'target' : l.order_type === 'stop' ? 'stop' : l.order_type;
          table.push([
            `  └ ${leg} leg`,
            r.ticker,
            l.side,
            String(l.qty),
            '-',
            l.status,
            String(l.filled_qty),
            l.filled_avg_price?.toFixed(4) ?? '-',
            l.updated_at,
          ]);
        }
      }
      process.stdout.write(`${table.toString()}\n`);
    });
}
