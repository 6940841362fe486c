import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library: ESM + CJS with declarations.
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    shims: true,
    splitting: false,
  },
  {
    // The CLI and the preload it injects with `--import` are ESM-only programs, not API.
    entry: { 'cli/index': 'src/cli/index.ts', preload: 'src/preload.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: false,
    splitting: false,
    external: ['autocannon'],
  },
]);
