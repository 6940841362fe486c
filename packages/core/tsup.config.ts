import { defineConfig, type Options } from 'tsup';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * The adapter entry imports the core's public entries (`../index.js`, `../worker.js`). Bundling
 * them would give `@offthread/core/adapter` its own copy of OffThreadError (so `instanceof`
 * would fail for errors it throws) and of the pool code: refer to the package's own entries
 * instead, which Node resolves by self-reference in both formats.
 */
const adapterUsesPublicEntries: Plugin = {
  name: 'adapter-uses-public-entries',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/(index|worker)\.js$/ }, (args) => {
      if (!/[\\/]src[\\/]adapter[\\/]/.test(args.importer)) return undefined;
      return {
        path: args.path === '../index.js' ? '@offthread/core' : '@offthread/core/worker',
        external: true,
      };
    });
  },
};

export default defineConfig({
  // worker-runtime is the script every pool thread boots; it is an entry of its own so the
  // pool can point `new Worker()` at a real file next to the built index, in either format.
  entry: {
    index: 'src/index.ts',
    worker: 'src/worker.ts',
    'worker-runtime': 'src/worker-runtime.ts',
    // The child entry of runtime: 'process' pools (process-thread.ts), located the same way.
    'process-entry': 'src/process-entry.ts',
    adapter: 'src/adapter/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: {
    entry: { index: 'src/index.ts', worker: 'src/worker.ts', adapter: 'src/adapter/index.ts' },
  },
  esbuildPlugins: [adapterUsesPublicEntries],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  shims: true,
  splitting: false,
});
