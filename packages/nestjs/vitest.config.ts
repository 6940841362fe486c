import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Every file starts worker threads and a Nest app; on a 2-core machine parallel files only add noise.
    fileParallelism: false,
    pool: 'forks',
  },
});
