// An Express route whose handler runs on worker machines: only the pool changes.
import { RemotePool } from '@offthread/bullmq';
import { offThread } from '@offthread/express';
import express from 'express';

const pool = new RemotePool({
  queue: 'http',
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  root: new URL('./', import.meta.url),
});
const app = express();
const route = offThread(new URL('./handlers/report.mjs', import.meta.url), {
  pool,
  timeout: 5_000,
});
app.post('/reports', express.json(), route);
await route.ready; // the handler module was loaded and checked on a worker
app.listen(3000);
