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
    // Files share a worker's module cache instead of importing the project anew (~2 s each); the
    // setup file puts back what a file changes in process.env.
    isolate: false,
    setupFiles: ['tests/support/restore-env.ts'],
  },
});
