import { execFileSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

/**
 * Every test but the adapter-entry table needs a real `redis-server` (Debian: `apt-get install
 * redis-server`). CI installs it (.ci/run) and must run them all; elsewhere, a machine without it
 * skips them with a message instead of failing, as the browser tests do without Chromium.
 */
function haveRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skipRedis = !process.env.CI && !haveRedisServer();
if (skipRedis) {
  console.warn(
    '@offthread/bullmq: redis-server is not installed, so the tests that need Redis are skipped. Install it (apt-get install redis-server, brew install redis) to run them.',
  );
}

export default defineConfig({
  test: {
    include: skipRedis ? ['test/adapter-entries.test.ts'] : ['test/**/*.test.ts'],
    // Worker processes run the built serve() (dist/): build it when src is newer.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file starts Redis and worker processes; on a shared 2-core machine one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
