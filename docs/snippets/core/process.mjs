import { Pool } from '@offthread/core';

// Each task runs in a child process: a crash there (segfault, process.abort(),
// process.exit()) fails that task only; this process and the other tasks go on.
const pool = new Pool({
  filename: new URL('./native-task.mjs', import.meta.url),
  runtime: 'process',
  maxThreads: 2,
});

const results = await Promise.allSettled([
  pool.run({ text: 'first' }),
  pool.run({ text: 'second', corrupt: true }),
  pool.run({ text: 'third' }),
]);
for (const result of results) {
  if (result.status === 'fulfilled') console.log(result.value);
  else console.log(result.reason.code, /signal (\w+)/.exec(result.reason.message)?.[1]);
}
console.log('processes replaced:', pool.stats().threadsReplaced);
await pool.close();
