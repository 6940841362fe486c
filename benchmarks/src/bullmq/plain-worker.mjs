// `node plain-worker.mjs <redis-port> <queue> <threads>`: a plain BullMQ worker whose jobs run
// in sandboxed worker threads, the way BullMQ users run CPU-heavy processors.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(new URL('../../../packages/bullmq/package.json', import.meta.url));
const { Worker } = require('bullmq');
const [port, queue, threads] = process.argv.slice(2);
const worker = new Worker(queue, fileURLToPath(new URL('./plain-processor.mjs', import.meta.url)), {
  connection: { host: '127.0.0.1', port: Number(port) },
  concurrency: Number(threads),
  useWorkerThreads: true,
  removeOnComplete: { count: 0 },
  removeOnFail: { count: 0 },
});
worker.on('error', () => {});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.once('SIGTERM', () => worker.close().then(() => process.exit(0)));
