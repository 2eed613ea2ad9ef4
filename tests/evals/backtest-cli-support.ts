/** Runs `quorum backtest` in-process (its own commander program, the real command module), capturing stdout and stderr. */
import { Command } from 'commander';
import { vi } from 'vitest';
import { registerBacktest } from '../../cli/commands/backtest.ts';
import { QuorumError } from '../../contracts/index.ts';

export async function backtestCli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command().exitOverride();
  registerBacktest(program);
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    await program.parseAsync(['node', 'quorum', 'backtest', ...args]);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}

/** The QuorumError a refused `quorum backtest` throws. */
export async function backtestRefusal(args: string[]): Promise<QuorumError> {
  const error = await backtestCli(args).catch((e: unknown) => e);
  if (!QuorumError.isInstance(error)) throw new Error(`expected a QuorumError, got ${String(error)}`);
  return error;
}
