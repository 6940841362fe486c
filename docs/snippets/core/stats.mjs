import { Pool } from '@offthread/core';

const pool = new Pool({
  filename: new URL('./tasks.mjs', import.meta.url),
  maxThreads: 2,
});
await Promise.all(Array.from({ length: 20 }, (_, i) => pool.run(`text ${i}`)));

const { threads, completed, runTime, waitTime, utilization } = pool.stats();
console.log({
  threads,
  completed,
  runP99: runTime.p99,
  waitP99: waitTime.p99,
  utilization,
});
await pool.close();
