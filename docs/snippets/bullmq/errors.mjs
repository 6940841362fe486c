// Errors keep their class across machines once the class is registered on the caller's
// side.
import { isRemotePoolError, RemotePool, registerError } from '@offthread/bullmq';

export class QuotaError extends Error {
  constructor(message) {
    super(message);
    this.name = 'QuotaError';
  }
}
registerError(QuotaError); // also registers it with @offthread/core for local pools

const pool = new RemotePool({
  queue: 'reports',
  root: new URL('./', import.meta.url),
});
try {
  await pool.run(
    {},
    {
      filename: new URL('./render-task.mjs', import.meta.url),
      attempts: 3,
      backoff: { type: 'exponential', delay: 200 },
    },
  );
} catch (error) {
  if (error instanceof QuotaError) console.log('over quota');
  else if (isRemotePoolError(error, 'ERR_OFFTHREAD_WORKER_EXIT'))
    console.log('the worker died');
  else if (isRemotePoolError(error, 'ERR_OFFTHREAD_REDIS_UNAVAILABLE'))
    console.log('Redis is down');
  else throw error;
} finally {
  await pool.close();
}
