import { Pool } from '@offthread/core';
import { processSingleton } from '@offthread/core/adapter';

/**
 * Where the default pool lives: on globalThis, so that the ESM and the CommonJS build of this
 * package, both loaded in one process (an app `import`s it, a library `require`s it), share one
 * pool sized to the cores instead of two.
 */
const holder = processSingleton('offthread.express.default-pool', () => ({
  pool: undefined as Pool | undefined,
}));

/**
 * The pool that `offThread()` and `underPressure()` use when given no `pool`: created on first
 * use, sized to the cores (`os.availableParallelism()`, divided among PM2/cluster siblings when
 * known), shared by every route and app in the process (and by both module formats of this
 * package). Its idle threads do not keep the process alive.
 *
 * One pool per process rather than per app on purpose: the cores belong to the process, so two
 * apps each with a pool sized to the cores would oversubscribe them; and `offThread()` checks the
 * handler module when it is created, before it knows which app will mount it.
 */
export function getDefaultPool(): Pool {
  holder.pool ??= new Pool({ name: 'offthread-express' });
  return holder.pool;
}

/**
 * Close the default pool (see {@link getDefaultPool}): running and queued requests finish, then
 * its threads stop. Call it after `server.close()` in your shutdown code. A later `offThread()`
 * creates a fresh default pool. Resolves at once when there is none.
 *
 * @param options.timeout ms after which unfinished tasks are stopped (ERR_OFFTHREAD_POOL_CLOSED).
 */
export async function closeDefaultPool(options: { timeout?: number } = {}): Promise<void> {
  const pool = holder.pool;
  holder.pool = undefined;
  if (pool) await pool.close(options);
}
