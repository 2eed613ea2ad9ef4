import { readFileSync, statSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Without a results cache (a fresh clone, as in CI) vitest runs the largest files first, but the
 * slowest files here are small ones that run the product whole (`node bin/quorum.js` subprocesses,
 * a browser, a backtest, a soak, the eval suites). Those go first (largest first), so no long file
 * starts last while the other core idles. With a cache, vitest's own order (failed, then slowest
 * first) applies.
 */
class SubprocessFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = files.every((f) => this.ctx.cache.getFileTestResults(`${f.project.name}:${f.moduleId.slice(this.ctx.config.root.length + 1)}`));
    if (known) return super.sort(files);
    const weight = (f: TestSpecification): number => {
      const text = readFileSync(f.moduleId, 'utf8');
      const spawns = /runQuorum\(|spawnQuorum\(|execFile\(|launchChromium\(|runBacktest\(|runSoak\(|runEvalSuites\(/.test(text);
      return (spawns ? 1e9 : 0) + statSync(f.moduleId).size;
    };
    const weights = new Map(files.map((f) => [f.moduleId, weight(f)]));
    return [...files].sort((a, b) => (weights.get(b.moduleId) ?? 0) - (weights.get(a.moduleId) ?? 0));
  }
}

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/fixtures/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // PGlite instances and llama.cpp are memory-hungry; two cores here.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    // Files share a worker's module cache instead of importing the project anew (~2 s each); the
    // setup file puts back what a file changes in process.env.
    isolate: false,
    setupFiles: ['tests/support/restore-env.ts'],
    sequence: { sequencer: SubprocessFirstSequencer },
  },
});
