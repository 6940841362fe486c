import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Worker processes run the built serve() (dist/): build it when src is newer.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file starts Redis and worker processes; on a shared 2-core machine one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
