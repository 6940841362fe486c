import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Every test spawns real processes and some measure timing: one file at a time on 2 cores.
    fileParallelism: false,
    pool: 'forks',
  },
});
