/**
 * @offthread/core: a fast, fault-tolerant worker-thread pool.
 * @module
 */
export { Pool, type PoolProxy, type ProxiedFunction } from './pool.js';
export { defaultPoolOptions, type PoolOptions, type RunOptions } from './options.js';
export { OffThreadError, OffThreadErrorCode, isOffThreadError, type OffThreadErrorDetails } from './errors.js';
export { registerError } from './error-serialization.js';
export { transfer, type Transferred } from './transfer.js';
export type { PoolStats, Percentiles } from './stats.js';
