import { defineConfig } from 'vitest/config';

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
  },
});
