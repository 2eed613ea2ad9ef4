/**
 * Writes each eval scenario's realised outcome (`realised:`, evals/scenario.ts ScenarioRealised):
 * for a scenario built from a bundled file's real bars of its own ticker, the move from the as-of
 * close to the close `horizonDays` trading days later, read from that file (evals/fixture.ts
 * realisedOutcome). Scenarios on a modelled series or a stand-in column get none. The block is
 * the file's last; the rest of the file is left as it is.
 *
 *   npx tsx scripts/scenario-outcomes.ts          # rewrite the blocks
 *   npx tsx scripts/scenario-outcomes.ts --check  # exit 1 when a file's block is not what the data gives
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_SCENARIOS_DIR, loadScenarioFile, realisedOutcome, type ScenarioRealised } from '../evals/index.ts';

const BLOCK = /\n# What followed \(scripts\/scenario-outcomes\.ts\)[^\n]*\nrealised:\n(?: {2}[^\n]*\n)*/;

function block(r: ScenarioRealised, file: string): string {
  return [
    `# What followed (scripts/scenario-outcomes.ts), from ${file}: never shown to the committee.`,
    'realised:',
    `  forwardReturn: ${r.forwardReturn}`,
    `  horizonDays: ${r.horizonDays}`,
    `  from: '${r.from}'`,
    `  to: '${r.to}'`,
    '',
  ].join('\n');
}

/** The scenario files under `dir`, one level of subfolders included (evals/scenarios/look-ahead). */
function scenarioFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? readdirSync(path.join(dir, e.name)).map((n) => path.join(e.name, n)) : [e.name]))
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** The file's text with its realised block as the data gives it (none when there is no outcome). */
export function withRealised(file: string): { text: string; realised: ScenarioRealised | null } {
  const before = readFileSync(file, 'utf8');
  const s = loadScenarioFile(file);
  const realised = realisedOutcome(s);
  const bare = before.replace(BLOCK, '\n');
  const text = realised && s.market.bars.kind === 'csv' ? `${bare.replace(/\n*$/, '\n')}\n${block(realised, s.market.bars.file)}` : bare.replace(/\n*$/, '\n');
  return { text, realised };
}

function main(): void {
  const check = process.argv.includes('--check');
  let changed = 0;
  let withOutcome = 0;
  const files = scenarioFiles(DEFAULT_SCENARIOS_DIR);
  for (const file of files) {
    const { text, realised } = withRealised(file);
    if (realised) withOutcome++;
    if (text === readFileSync(file, 'utf8')) continue;
    changed++;
    if (check) process.stderr.write(`${path.relative(process.cwd(), file)}: its realised block is not what the data gives\n`);
    else writeFileSync(file, text);
  }
  process.stdout.write(`${files.length} scenario(s), ${withOutcome} with a realised outcome; ${changed} ${check ? 'out of date' : 'rewritten'}\n`);
  if (check && changed > 0) process.exitCode = 1;
}

main();
