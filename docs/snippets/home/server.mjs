import { offThread } from '@offthread/express';
import express from 'express';

const app = express();

// #region routes
// Before: fib() runs on the event loop, and every other request waits.
app.get('/fib-blocking', (req, res) => {
  res.json({ result: fib(Number(req.query.n ?? 30)) });
});

// After: the same work in a pool thread, one line per route.
const fibHandler = new URL('./handlers/fib.mjs', import.meta.url);
app.get('/fib', offThread(fibHandler, { timeout: 5_000 }));

app.get('/health', (_req, res) => res.json({ ok: true })); // stays fast
// #endregion routes

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`listening on http://127.0.0.1:${port}`);
});
