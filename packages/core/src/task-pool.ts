import type { RunOptions, StreamOptions } from './options.js';
import type { PoolProxy } from './pool.js';
import type { PoolStats } from './stats.js';
import type { PoolStream } from './task-stream.js';

/**
 * What every offthread pool can do, wherever its threads are: the local {@link Pool} and
 * `RemotePool` from `@offthread/bullmq` both implement it, and the Express and Nest adapters
 * accept any `TaskPool`. Write code against this interface to let users choose.
 *
 * Events: `threadStart` and `threadExit` (see {@link Pool}); other implementations may emit more.
 */
export interface TaskPool {
  /** Run an export of a task module with `arg`; resolves with its (awaited) return value. */
  run<R = any>(arg?: unknown, options?: RunOptions): Promise<R>;
  /**
   * Iterate the values an async-generator export yields, with backpressure (see `Pool.stream`).
   * Optional: a pool that cannot stream (e.g. `RemotePool`) leaves it out; check before use.
   */
  stream?<T = any, R = any>(arg?: unknown, options?: StreamOptions): PoolStream<T, R>;
  /** A typed object whose methods call the named exports of a task module. */
  proxy<M>(options?: Omit<RunOptions, 'name'>): PoolProxy<M>;
  /** Load a task module and check that the named exports are functions. */
  preload(options?: { filename?: string | URL; names?: string[] }): Promise<void>;
  /** Counters and latency percentiles. */
  stats(): PoolStats;
  /** Stop taking tasks, let accepted ones finish, then stop. */
  close(options?: { timeout?: number }): Promise<void>;
  /** Stop now; unfinished tasks reject with ERR_OFFTHREAD_POOL_CLOSED. */
  destroy(): Promise<void>;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** Is `value` something the adapters can run tasks on (a local or remote pool)? */
export function isTaskPool(value: unknown): value is TaskPool {
  if (value === null || typeof value !== 'object') return false;
  const pool = value as Record<string, unknown>;
  return (
    typeof pool.run === 'function' &&
    typeof pool.close === 'function' &&
    typeof pool.destroy === 'function' &&
    typeof pool.stats === 'function'
  );
}
