import { Piscina } from 'piscina';
import { installedVersion } from './version.mjs';

/** @type {import('./types.mjs').RunnerMeta} */
export const meta = {
  name: 'piscina',
  version: installedVersion('piscina'),
  config: 'Piscina({ minThreads: 2, maxThreads: 2, maxQueue: Infinity }), default atomics',
};

/** @type {import('./types.mjs').CreatePool} */
export async function create({ threads }) {
  const pool = new Piscina({
    filename: new URL('../tasks/piscina.mjs', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    maxQueue: Number.POSITIVE_INFINITY,
    idleTimeout: 60_000,
  });
  return {
    tiny: (x) => pool.run(x),
    cpu: (n) => pool.run(n, { name: 'cpu' }),
    echo: (buf) => pool.run(Piscina.move(buf), { name: 'echo' }),
    close: () => pool.destroy(),
  };
}
