import type { Command } from 'commander';
import Table from 'cli-table3';
import { z } from 'zod';
import { QuorumError, fieldIssues, formatIssues } from '../../contracts/index.ts';
import { getTradingState, loadPositions, setTradingState } from '../../execution/index.ts';
import { cliContext, printJson, withDb } from '../context.ts';
import { tableStyle } from '../table.ts';

/** `quorum halt` and `quorum resume`: the manual kill switch (audited). */
export function registerTradingState(program: Command): void {
  program
    .command('halt')
    .description('HALT trading: every new order is denied (cancels still go through)')
    .requiredOption('--reason <text>', 'why (stored in the audit trail)')
    .option('--json', 'print the new state as JSON')
    .action(async (opts: { reason: string; json?: boolean }) => {
      const ctx = cliContext();
      const state = await withDb(ctx, (db) => setTradingState(db, 'HALTED', `manual: ${opts.reason}`, 'cli'));
      if (opts.json) printJson(state);
      else process.stdout.write(`trading ${state.state} (${state.reason})\n`);
    });
  program
    .command('resume')
    .description('resume trading (ACTIVE) after a halt')
    .requiredOption('--reason <text>', 'why (stored in the audit trail)')
    .option('--reducing', 'resume in REDUCING (only orders that reduce exposure)')
    .option('--json', 'print the new state as JSON')
    .action(async (opts: { reason: string; reducing?: boolean; json?: boolean }) => {
      const ctx = cliContext();
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
      const { positions, state } = await withDb(ctx, async (db) => ({ positions: await loadPositions(db), state: await getTradingState(db) }));
      if (opts.json) {
        printJson({ tradingState: state, positions });
        return;
      }
      process.stdout.write(`trading ${state.state} (${state.reason})\n`);
      if (positions.length === 0) {
        process.stdout.write('no positions\n');
        return;
      }
      const table = new Table({ head: ['ticker', 'qty', 'avg price', 'opened'], style: tableStyle() });
      for (const p of positions) table.push([p.ticker, String(p.qty), p.avgPrice.toFixed(4), p.openedAt]);
      process.stdout.write(`${table.toString()}\n`);
    });
}

const OrderRow = z.object({
  client_order_id: z.string(),
  ticker: z.string(),
  side: z.string(),
  qty: z.number(),
  intent_status: z.string(),
  order_status: z.string().nullable(),
  filled_qty: z.number().nullable(),
  filled_avg_price: z.number().nullable(),
  created_at: z.coerce.date(),
});
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
    .description('order intents and their broker orders, newest first')
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
      const rows = await withDb(ctx, async (db) => {
        const res = await db.query(
          `SELECT i.client_order_id, i.ticker, i.side, i.qty, i.status AS intent_status, o.status AS order_status, o.filled_qty, o.filled_avg_price, i.created_at
             FROM order_intents i LEFT JOIN orders o ON o.client_order_id = i.client_order_id
            WHERE ($1::text IS NULL OR i.status = $1) ORDER BY i.created_at DESC, i.id LIMIT $2`,
          [opts.status ?? null, opts.limit],
        );
        return res.rows.map((r) => OrderRow.parse(r));
      });
      if (opts.json) {
        printJson(rows.map((r) => ({ ...r, created_at: r.created_at.toISOString() })));
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no orders\n');
        return;
      }
      const table = new Table({ head: ['client_order_id', 'ticker', 'side', 'qty', 'intent', 'broker', 'filled', 'avg', 'created'], style: tableStyle() });
      for (const r of rows) {
        table.push([r.client_order_id, r.ticker, r.side, String(r.qty), r.intent_status, r.order_status ?? '-', String(r.filled_qty ?? 0), r.filled_avg_price?.toFixed(4) ?? '-', r.created_at.toISOString()]);
      }
      process.stdout.write(`${table.toString()}\n`);
    });
}
