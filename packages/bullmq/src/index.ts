/**
 * @offthread/bullmq: run offthread task modules on other machines through BullMQ and Redis.
 * @module
 */
export type { RedisConnection } from './connection.js';
export { isRemotePoolError, RemoteErrorCode } from './errors.js';
export {
  type Backoff,
  defaultRemotePoolOptions,
  RemotePool,
  type RemotePoolOptions,
  type RemotePoolStats,
  type RemoteRunOptions,
  type RemoteWorkerStats,
} from './remote-pool.js';
export { defaultServeOptions, type ServeOptions, type Server, serve } from './serve.js';
export { registerError } from './wire.js';
