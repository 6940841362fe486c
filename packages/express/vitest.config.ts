import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Pool threads run the built dispatcher (dist/dispatch.js): build it when src is newer.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Worker-thread tests are CPU heavy; on a 2-core machine running files in parallel only adds noise.
    fileParallelism: false,
    pool: 'forks',
  },
});
