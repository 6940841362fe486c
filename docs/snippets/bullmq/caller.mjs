// The caller: the same calls as a local Pool, run by worker machines through Redis.
import { RemotePool } from '@offthread/bullmq';

const pool = new RemotePool({
  queue: 'reports',
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  root: new URL('./', import.meta.url), // task modules are named to workers relative to it
  filename: new URL('./render-task.mjs', import.meta.url),
});
await pool.connect(); // fail fast at start-up if Redis is unreachable

const text = await pool.run(
  { title: 'Q3', rows: ['north', 'south'] },
  {
    timeout: 5_000,
    queueTimeout: 2_000,
    priority: 5,
    signal: AbortSignal.timeout(10_000),
  },
);
console.log(text);
// { waiting, active, workers: [{ id, threads, ... }], ... }
console.log(pool.stats().remote);
await pool.close();
