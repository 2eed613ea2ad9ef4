/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line), prints a table
 * and writes bench/results.json. A bench module's default export returns its measurements.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';

export const Measurement = z.object({
  name: z.string(),
  value: z.number(),
  unit: z.string(),
  /** e.g. "< 2000 ms"; `ok` says whether the budget was met. */
  budget: z.string().optional(),
  ok: z.boolean().optional(),
  notes: z.string().optional(),
});
export type Measurement = z.infer<typeof Measurement>;

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const results: Record<string, Measurement[]> = {};
for (const file of files) {
  process.stderr.write(`bench: ${file} ...\n`);
  const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { default: () => Promise<unknown> };
  const measured = z.array(Measurement).parse(await mod.default());
  results[file] = measured;
  for (const m of measured) {
    const verdict = m.ok === undefined ? '' : m.ok ? '  ok' : '  OVER BUDGET';
    process.stdout.write(`${file.padEnd(26)} ${m.name.padEnd(52)} ${m.value.toFixed(3).padStart(12)} ${m.unit.padEnd(10)} ${m.budget ?? ''}${verdict}\n`);
  }
}
const meta = { node: process.version, cpus: (await import('node:os')).cpus().length, at: new Date().toISOString() };
writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify({ meta, results }, null, 2)}\n`);
