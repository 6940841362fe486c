import { isOffThreadError, OffThreadErrorCode, Pool } from '@offthread/core';

const pool = new Pool({
  filename: new URL('./render-task.mjs', import.meta.url),
});

// A deadline for the whole call: queued time counts here, because the signal is yours.
try {
  await pool.run({ pages: 1_000 }, { signal: AbortSignal.timeout(200) });
} catch (error) {
  if (isOffThreadError(error, OffThreadErrorCode.ABORTED)) console.log('aborted');
  else throw error;
}

// A budget for running time only (time spent queued does not count). A task that ignores
// its signal is stopped anyway: its thread is terminated and replaced.
try {
  await pool.run({ pages: 1_000 }, { timeout: 100 });
} catch (error) {
  if (isOffThreadError(error, OffThreadErrorCode.TIMEOUT)) console.log('timed out');
  else throw error;
}

console.log(await pool.run({ pages: 2 })); // [ 'page 1', 'page 2' ]
await pool.close();
