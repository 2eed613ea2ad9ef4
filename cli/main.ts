import { Command, CommanderError } from 'commander';
import { QuorumError, errorMessage } from '../contracts/errors.ts';
import { registerDb } from './commands/db.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerServe } from './commands/serve.ts';
import { registerToken } from './commands/token.ts';
import { registerNews } from './commands/news.ts';
import { registerIngestPrices } from './commands/ingest-prices.ts';
import { registerTrain } from './commands/train.ts';
import { registerPropose } from './commands/propose.ts';
import { registerModel } from './commands/model.ts';
import { registerFeatures } from './commands/features.ts';
import { registerEval } from './commands/eval.ts';
import { registerExecution } from './commands/execution.ts';
import { registerCritique } from './commands/critique.ts';
import { registerDemo } from './commands/demo.ts';
import { registerSession } from './commands/session.ts';
import { registerAudit } from './commands/audit.ts';
import { registerApprovals } from './commands/approvals.ts';
import { registerBacktest } from './commands/backtest.ts';
import { registerRun } from './commands/run.ts';
import { registerSoak } from './commands/soak.ts';

/** Exit codes: 1 runtime failure, 2 bad input or configuration. */
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('quorum')
    .description('An LLM committee critiques ML trade proposals; a hard-rule risk controller has the last word.')
    .showHelpAfterError()
    .exitOverride();
  registerDb(program);
  registerDoctor(program);
  registerExecution(program);
  registerToken(program);
  registerServe(program);
  registerNews(program);
  registerIngestPrices(program);
  registerTrain(program);
  registerPropose(program);
  registerModel(program);
  registerFeatures(program);
  registerEval(program);
  registerCritique(program);
  registerDemo(program);
  registerSession(program);
  registerAudit(program);
  registerApprovals(program);
  registerBacktest(program);
  registerRun(program);
  registerSoak(program);
  return program;
}

const INPUT_CODES = new Set(['CONFIG_MISSING', 'CONFIG_INVALID', 'INPUT_INVALID', 'MODEL_MISMATCH', 'EMBEDDING_MISMATCH', 'LOOK_AHEAD']);

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
      return;
    }
    if (QuorumError.isInstance(error)) {
      process.stderr.write(`quorum: ${error.code}: ${error.message}\n`);
      process.exitCode = INPUT_CODES.has(error.code) ? EXIT_BAD_INPUT : EXIT_FAILURE;
      return;
    }
    process.stderr.write(`quorum: unexpected error: ${errorMessage(error)}\n`);
    if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = EXIT_FAILURE;
  }
}

await main();
