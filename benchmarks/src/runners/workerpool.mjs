import { fileURLToPath } from 'node:url';
import workerpool from 'workerpool';
import { installedVersion } from './version.mjs';

/** @type {import('./types.mjs').RunnerMeta} */
export const meta = {
  name: 'workerpool',
  version: installedVersion('workerpool'),
  config: "pool({ minWorkers: 2, maxWorkers: 2, workerType: 'thread' }), unbounded queue",
};

/** @type {import('./types.mjs').CreatePool} */
export async function create({ threads }) {
  const pool = workerpool.pool(fileURLToPath(new URL('../tasks/workerpool.mjs', import.meta.url)), {
    minWorkers: threads,
    maxWorkers: threads,
    workerType: 'thread',
  });
  return {
    tiny: (x) => pool.exec('tiny', [x]),
    cpu: (n) => pool.exec('cpu', [n]),
    echo: (buf) => pool.exec('echo', [buf], { transfer: [buf] }),
    close: () => pool.terminate(true),
  };
}
