import { defineConfig } from 'tsup';

export default defineConfig({
  // dispatch is the task module every offThread() route runs in its pool thread; it is an entry
  // of its own so the middleware can point the pool at a real file next to the built index.
  entry: ['src/index.ts', 'src/worker.ts', 'src/dispatch.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: ['src/index.ts', 'src/worker.ts'] },
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  shims: true,
  splitting: false,
});
