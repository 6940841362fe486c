// Two processes on this machine, each with its own pool: tell offthread how many share
// the cores.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

const processes = Number(process.env.WEB_CONCURRENCY ?? 2);

if (cluster.isPrimary) {
  for (let i = 0; i < processes; i++) {
    // Node's cluster does not tell workers how many siblings they have; this variable does.
    cluster.fork({ OFFTHREAD_PROCESS_COUNT: String(processes) });
  }
} else {
  const { Pool, defaultPoolOptions } = await import('@offthread/core');
  // On 8 cores with 2 processes: 4 threads each, not 8 (16 threads would fight over 8
  // cores).
  console.log(
    `${availableParallelism()} cores, ${processes} processes: ` +
      `maxThreads ${defaultPoolOptions.maxThreads}`,
  );
  const pool = new Pool({
    filename: new URL('../core/tasks.mjs', import.meta.url),
  });
  await pool.close();
  process.exit(0);
}
