import { Pool } from '@offthread/core';

// Task code that leaks (a cache that only grows, a library that never frees) is
// contained by a budget per thread: after 10 tasks, or past 256 MB of heap, the
// thread finishes what it holds, exits gracefully and a fresh one takes its place.
// No task fails or runs twice.
const pool = new Pool({
  filename: new URL('./tasks.mjs', import.meta.url),
  maxThreads: 1,
  maxTasksPerThread: 10,
  maxThreadHeapMb: 256,
});
pool.on('threadRecycled', ({ reason, tasks }) => {
  console.log(`a thread was recycled (${reason}) after ${tasks} tasks`);
});

const counts = await Promise.all(
  Array.from({ length: 25 }, (_, i) =>
    pool.run(`task number ${i}`, { name: 'wordCount' }),
  ),
);
console.log(
  counts.every((n) => n === 3),
  'threadsRecycled:',
  pool.stats().threadsRecycled,
);
await pool.close();
