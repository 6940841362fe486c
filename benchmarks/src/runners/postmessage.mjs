import { Worker } from 'node:worker_threads';

/** @type {import('./types.mjs').RunnerMeta} */
export const meta = {
  name: 'postMessage',
  version: process.version,
  config: '2 bare Workers, round-robin, one postMessage per task and per result',
};

/**
 * A first-in first-out list of resolvers that does not shift an array (O(1) per task even
 * with 100k pending).
 */
class Fifo {
  /** @type {Array<((v: any) => void) | undefined>} */
  items = [];
  head = 0;
  /** @param {(v: any) => void} fn */
  push(fn) {
    this.items.push(fn);
  }
  shift() {
    const fn = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
    return /** @type {(v: any) => void} */ (fn);
  }
}

/** @type {import('./types.mjs').CreatePool} */
export async function create({ threads }) {
  const url = new URL('../tasks/postmessage.mjs', import.meta.url);
  // Each worker answers in order, so one FIFO of resolvers per worker is all the bookkeeping.
  const workers = Array.from({ length: threads }, () => {
    const worker = new Worker(url);
    const pending = new Fifo();
    worker.on('message', (result) => pending.shift()(result));
    return { worker, pending };
  });
  let next = 0;
  /**
   * @param {number} op
   * @param {any} arg
   * @param {ArrayBuffer[]} [transferList]
   */
  const send = (op, arg, transferList) =>
    new Promise((resolve) => {
      const w = workers[next];
      next = (next + 1) % workers.length;
      w.pending.push(resolve);
      w.worker.postMessage([op, arg], transferList);
    });
  return {
    tiny: (x) => send(0, x),
    cpu: (n) => send(1, n),
    echo: (buf) => send(2, buf, [buf]),
    close: async () => {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
