import { Pool } from '@offthread/core';

const pool = new Pool({
  filename: new URL('./config-task.mjs', import.meta.url),
  minThreads: 2,
  maxThreads: 2,
});

// Run an export on every thread: one settled result per thread, failures included.
// includeFutureThreads: threads started later (replacements) run it first thing too.
const results = await pool.broadcast(
  { greeting: 'bonjour' },
  { name: 'reloadSettings', includeFutureThreads: true },
);
console.log(results.length, results.map((r) => r.status).join(' '));
for (const r of results)
  if (r.status === 'rejected') console.error(r.threadId, r.reason);

console.log(await pool.run('Ada', { name: 'greet' }));
await pool.close();
