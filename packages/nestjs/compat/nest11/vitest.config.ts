import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The end-to-end tests of @offthread/nestjs, unchanged, against this package's NestJS 11: the
// package and its fixtures are staged here, so they resolve @nestjs/* from this folder.
process.env.OFFTHREAD_NEST_STAGE = fileURLToPath(new URL('./.stage', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
