import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Vitest compiles with esbuild, which emits no decorator metadata: Nest's constructor injection
// needs SWC (or tsc) instead.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: { include: ['src/**/*.spec.ts'] },
});
