import { Pool, transfer } from '@offthread/core';
import { installedVersion } from './version.mjs';

/** @type {import('./types.mjs').RunnerMeta} */
export const meta = {
  name: 'offthread',
  version: installedVersion('@offthread/core'),
  config: 'Pool({ minThreads: 2, maxThreads: 2, maxQueue: Infinity })',
};

/** @type {import('./types.mjs').CreatePool} */
export async function create({ threads }) {
  const pool = new Pool({
    filename: new URL('../tasks/offthread.mjs', import.meta.url),
    minThreads: threads,
    maxThreads: threads,
    maxQueue: Number.POSITIVE_INFINITY,
  });
  return {
    tiny: (x) => pool.run(x),
    cpu: (n) => pool.run(n, { name: 'cpu' }),
    echo: (buf) => pool.run(transfer(buf), { name: 'echo' }),
    close: () => pool.destroy(),
  };
}
