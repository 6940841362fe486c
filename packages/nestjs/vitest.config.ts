import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// TypeScript sources that import the package (the dev-runner test) get the staged build: the same
// copy the compiled fixtures and the worker threads load.
const staged = fileURLToPath(
  new URL('./test/.stage/node_modules/@offthread/nestjs/dist/index.js', import.meta.url),
);

export default defineConfig({
  // As the README's testing section shows: SWC emits the decorator metadata that esbuild does not.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { alias: { '@offthread/nestjs': staged } },
  test: {
    include: ['test/**/*.test.ts', 'examples/readme/**/*.spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Every file starts worker threads and a Nest app; on a 2-core machine parallel files only add noise.
    fileParallelism: false,
    pool: 'forks',
  },
});
