// The sample app: the same CPU work on the event loop (/blocking/:n) and in a worker-thread
// pool (/offthread/:n), crypto on libuv's thread pool (/hash), and a light route (/health).
import { pbkdf2 } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Pool } from '@offthread/core';
import { offThread, offThreadReady, underPressure } from '@offthread/express';
import express from 'express';
import { fibonacci, parseN } from './work.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';

// One core is left to the event loop: it parses HTTP and answers /health while every pool
// thread computes. OFFTHREAD_THREADS overrides the size.
const threads = Number(process.env.OFFTHREAD_THREADS) || Math.max(1, availableParallelism() - 1);
const pool = new Pool({ name: 'express-sample', minThreads: threads, maxThreads: threads });

const app = express();
app.disable('x-powered-by');

// Load shedding with a generous limit: it only answers 503 if the event loop is stuck for a
// whole second, and serves /status for load balancers.
const pressure = underPressure({ maxEventLoopDelay: 1000, pool, statusRoute: '/status' });
app.use(pressure);

app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});

// The work runs on the event loop: while it runs, no other request (not even /health) is served.
app.get('/blocking/:n', (req, res) => {
  const n = parseN(req.params.n);
  res.json({ n, fibonacci: fibonacci(n) });
});

// The same work in a pool thread: the event loop stays free.
app.get(
  '/offthread/:n',
  offThread(new URL('./handlers/fibonacci.js', import.meta.url), { pool, timeout: 10_000 }),
);

// The same work through a hand-written pool.run(), for the adapter's cost in the benchmark
// (scripts/bench-adapter.js): everything offThread() does for a route, written by hand.
const fibonacciTask = new URL('./tasks/fibonacci.js', import.meta.url);
app.get('/manual/:n', async (req, res, next) => {
  try {
    const n = parseN(req.params.n);
    res.json({ n, fibonacci: await pool.run(n, { filename: fibonacciTask, timeout: 10_000 }) });
  } catch (error) {
    next(error);
  }
});

// Crypto that Node already runs on libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE).
app.get('/hash', (req, res, next) => {
  const password = String(req.query.password ?? 'correct horse battery staple');
  pbkdf2(password, 'offthread-sample', 100_000, 32, 'sha256', (error, key) => {
    if (error) next(error);
    else res.json({ hash: key.toString('hex') });
  });
});

app.use((error, _req, res, next) => {
  if (res.headersSent) return next(error);
  const status = error.status ?? error.statusCode ?? 500;
  res.status(status).json({ error: error.message, code: error.code });
});

// Refuse to start if a handler module cannot be loaded.
await offThreadReady();
const server = app.listen(port, host, () => {
  console.log(`express-sample listening on http://${host}:${port}`);
});

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing`);
  pressure.close();
  server.close();
  server.closeAllConnections();
  await pool.close({ timeout: 5000 });
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
