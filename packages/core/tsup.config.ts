import { defineConfig } from 'tsup';

export default defineConfig({
  // worker-runtime is the script every pool thread boots; it is an entry of its own so the
  // pool can point `new Worker()` at a real file next to the built index, in either format.
  entry: ['src/index.ts', 'src/worker.ts', 'src/worker-runtime.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: ['src/index.ts', 'src/worker.ts'] },
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  shims: true,
  splitting: false,
});
