/**
 * Where the thread script is. Each build (ESM index.js, CJS index.cjs) starts the runtime of its
 * own format, which sits next to it in dist/.
 */
const here = import.meta.url;
export const workerRuntimePath = new URL(
  here.endsWith('.cjs') ? './worker-runtime.cjs' : './worker-runtime.js',
  here,
);
