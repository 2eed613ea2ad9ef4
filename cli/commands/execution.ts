import type { Command } from 'commander';
import { registerPaperExchange } from './paper-exchange.ts';
import { registerOrders, registerPositions, registerTradingState } from './trading.ts';

/** The execution commands: paper-exchange, halt, resume, positions, orders. */
export function registerExecution(program: Command): void {
  registerPaperExchange(program);
  registerTradingState(program);
  registerPositions(program);
  registerOrders(program);
}
