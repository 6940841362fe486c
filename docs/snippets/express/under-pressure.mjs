import { offThread, underPressure } from '@offthread/express';
import express from 'express';

const app = express();

// Mount it first: while a limit is exceeded, every route answers 503 with Retry-After at
// once,
// so the process recovers instead of queueing more work than it can finish.
const pressure = underPressure({
  maxEventLoopDelay: 200, // ms, mean over each sample interval
  maxPoolQueue: 64, // tasks waiting in the offThread() pool
  maxThreadpoolQueueWait: 100, // ms a libuv request (fs, crypto, zlib, dns.lookup) waits
  statusRoute: '/status', // 200 or 503 with the metrics, for the load balancer
});
app.use(pressure);

app.get('/fib', offThread(new URL('./handlers/fib.mjs', import.meta.url)));

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
process.on('SIGTERM', () => {
  pressure.close(); // stop its timers
  server.close();
});
