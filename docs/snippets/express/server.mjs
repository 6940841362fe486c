import { closeDefaultPool, offThread, offThreadReady } from '@offthread/express';
import express from 'express';
import { fib } from '../why/fib.mjs';

const app = express();

app.get('/health', (_req, res) => {
  res.json({ ok: true });
});

// #region routes
// The problem: a CPU-bound handler on the main thread. While it runs, /health waits too.
app.get('/fib-blocking', (req, res) => {
  const n = Math.min(Number(req.query.n ?? 30), 40);
  res.json({ n, result: fib(n) });
});

// The fix: the same work in a pool thread. One line per route.
app.get(
  '/fib',
  offThread(new URL('./handlers/fib.mjs', import.meta.url), { timeout: 5_000 }),
);
app.post(
  '/report',
  express.json(),
  offThread(new URL('./handlers/report.mjs', import.meta.url)),
);
// #endregion routes
app.get('/export.csv', offThread(new URL('./handlers/export.mjs', import.meta.url)));

// Refuse to start if a handler module cannot load (a typo, a missing dependency).
await offThreadReady();
const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`listening on http://127.0.0.1:${port}`);
});

process.on('SIGTERM', () => {
  server.close(() => closeDefaultPool({ timeout: 10_000 }).then(() => process.exit(0)));
});
