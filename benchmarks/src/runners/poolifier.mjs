import { fileURLToPath } from 'node:url';
import { FixedThreadPool } from 'poolifier';
import { installedVersion } from './version.mjs';

/** @type {import('./types.mjs').RunnerMeta} */
export const meta = {
  name: 'poolifier',
  version: installedVersion('poolifier'),
  config: 'FixedThreadPool(2, { enableEvents: false }), tasks posted straight to the workers',
};

/** @type {import('./types.mjs').CreatePool} */
export async function create({ threads }) {
  // Without enableTasksQueue poolifier posts every task to a worker at once (the worker's
  // message port is the queue); of the configurations tried this was the fastest.
  const pool = new FixedThreadPool(
    threads,
    fileURLToPath(new URL('../tasks/poolifier.mjs', import.meta.url)),
    { enableEvents: false },
  );
  return {
    tiny: (x) => pool.execute(x, 'tiny'),
    cpu: (n) => pool.execute(n, 'cpu'),
    echo: (buf) => pool.execute(buf, 'echo', undefined, [buf]),
    close: () => pool.destroy(),
  };
}
