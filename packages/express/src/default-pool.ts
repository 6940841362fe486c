import { Pool } from '@offthread/core';

let defaultPool: Pool | undefined;

/**
 * The pool that `offThread()` and `underPressure()` use when given no `pool`: created on first
 * use, sized to the cores (`os.availableParallelism()`, divided among PM2/cluster siblings when
 * known), shared by every route and app in the process. Its idle threads do not keep the process
 * alive.
 *
 * One pool per process rather than per app on purpose: the cores belong to the process, so two
 * apps each with a pool sized to the cores would oversubscribe them; and `offThread()` checks the
 * handler module when it is created, before it knows which app will mount it.
 */
export function getDefaultPool(): Pool {
  defaultPool ??= new Pool({ name: 'offthread-express' });
  return defaultPool;
}

/**
 * Close the default pool (see {@link getDefaultPool}): running and queued requests finish, then
 * its threads stop. Call it after `server.close()` in your shutdown code. A later `offThread()`
 * creates a fresh default pool. Resolves at once when there is none.
 *
 * @param options.timeout ms after which unfinished tasks are stopped (ERR_OFFTHREAD_POOL_CLOSED).
 */
export async function closeDefaultPool(options: { timeout?: number } = {}): Promise<void> {
  const pool = defaultPool;
  defaultPool = undefined;
  if (pool) await pool.close(options);
}
