/**
 * Process-wide list of live local pools, for tools that observe them (`@offthread/diagnostics`
 * reports per-pool saturation). It lives on `globalThis` under a `Symbol.for` key so that the ESM
 * and CJS copies of this package, loaded in one process, share it. Adding a pool costs one Set
 * insertion; nothing else runs unless an observer reads it.
 */
import type { Worker } from 'node:worker_threads';

/** Key of the method that lists a pool's live `Worker` objects. */
export const kPoolWorkers: unique symbol = Symbol.for('offthread.pool.workers');

/** What an observer may read of a live pool (a `Pool` satisfies it). */
export interface ObservablePool {
  readonly options: { readonly name: string };
  stats(): import('./stats.js').PoolStats;
  /** The pool's live worker threads (for per-thread ELU and CPU profiles). */
  [kPoolWorkers](): Worker[];
}

const kLivePools = Symbol.for('offthread.pools.live');

/** The live pools of this process (shared by every copy of the package). */
export function livePools(): Set<ObservablePool> {
  const store = globalThis as unknown as Record<symbol, Set<ObservablePool> | undefined>;
  let pools = store[kLivePools];
  if (!pools) {
    pools = new Set();
    store[kLivePools] = pools;
  }
  return pools;
}
