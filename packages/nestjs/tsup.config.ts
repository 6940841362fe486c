import { defineConfig } from 'tsup';

// The two builds run in parallel, so neither cleans dist/: the build script does.
export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    shims: true,
    splitting: false,
  },
  {
    // The script pool threads load: one CommonJS file, found next to either build of the index.
    entry: ['src/worker-entry.ts'],
    format: ['cjs'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    shims: true,
    splitting: false,
  },
]);
