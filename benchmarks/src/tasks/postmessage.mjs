// Bare worker_threads baseline: one message in, one message out, nothing else.
// Messages are [op, arg]; replies come back in order, so no ids are needed.
import { parentPort } from 'node:worker_threads';
import { cpu, tiny } from './shared.mjs';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
port.on('message', (msg) => {
  const op = msg[0];
  if (op === 0) port.postMessage(tiny(msg[1]));
  else if (op === 1) port.postMessage(cpu(msg[1]));
  else port.postMessage(msg[1], [msg[1]]);
});
