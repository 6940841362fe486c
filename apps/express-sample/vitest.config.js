import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.js'],
    // Clinic starts the app, loads it with autocannon and analyses the samples: about 15 s here.
    testTimeout: 90_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
