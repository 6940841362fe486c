import { defineConfig } from 'tsup';

export default defineConfig({
  // cli is the `offthread-bullmq serve` bin: ESM only is enough for a bin, but building it with
  // the rest keeps one config.
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: ['src/index.ts'] },
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  shims: true,
  splitting: false,
});
