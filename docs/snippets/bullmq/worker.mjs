// Each worker machine: one process, sized to its cores, running every job on a local Pool.
import { serve } from '@offthread/bullmq';
import { Pool } from '@offthread/core';

const pool = new Pool(); // maxThreads defaults to the machine's cores
const server = await serve({
  queue: 'reports',
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  root: new URL('./', import.meta.url), // only modules under it are ever loaded
  pool,
});
process.once('SIGTERM', async () => {
  await server.close(); // stop taking jobs, finish the running ones
  await pool.close();
});
