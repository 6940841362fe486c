/**
 * @offthread/core: a fast, fault-tolerant worker-thread pool.
 * @module
 */

export type { CarryOptions } from './context.js';
export { registerError } from './error-serialization.js';
export {
  isOffThreadError,
  OffThreadError,
  OffThreadErrorCode,
  type OffThreadErrorDetails,
} from './errors.js';
export {
  type BroadcastOptions,
  defaultPoolOptions,
  type PoolOptions,
  type ResolvedPoolOptions,
  type RunOptions,
  type StreamOptions,
} from './options.js';
export {
  type BroadcastFailure,
  type BroadcastResult,
  Pool,
  type PoolProxy,
  type ProxiedFunction,
  type RecycleReason,
  type ThreadRecycled,
  type ThreadStartFailure,
} from './pool.js';
export { kPoolWorkers, livePools, type ObservablePool } from './pool-registry.js';
export type { PoolRuntime } from './process-options.js';
export type { Percentiles, PoolStats } from './stats.js';
export { isTaskPool, type TaskPool } from './task-pool.js';
export type { PoolStream } from './task-stream.js';
export { type TransferableValue, type Transferred, transfer } from './transfer.js';
