import Tinypool from 'tinypool';
import { installedVersion } from './version.mjs';

/** @type {import('./types.mjs').RunnerMeta} */
export const meta = {
  name: 'tinypool',
  version: installedVersion('tinypool'),
  config: 'Tinypool({ minThreads: 2, maxThreads: 2, maxQueue: Infinity, isolateWorkers: false })',
};

/** @type {import('./types.mjs').CreatePool} */
export async function create({ threads }) {
  const pool = new Tinypool({
    filename: new URL('../tasks/tinypool.mjs', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    maxQueue: Number.POSITIVE_INFINITY,
    idleTimeout: 60_000,
    isolateWorkers: false,
  });
  return {
    tiny: (x) => pool.run(x),
    cpu: (n) => pool.run(n, { name: 'cpu' }),
    echo: (buf) => pool.run(Tinypool.move(buf), { name: 'echo' }),
    close: () => pool.destroy(),
  };
}
