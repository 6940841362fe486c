/**
 * @offthread/express: run Express handlers in a worker-thread pool, and shed load when the
 * event loop is unhealthy.
 * @module
 */
export {
  defaultOffThreadOptions,
  type OffThreadMiddleware,
  type OffThreadOptions,
  offThread,
  offThreadReady,
} from './off-thread.js';
export {
  defaultUnderPressureOptions,
  type PressureMetrics,
  PressureType,
  type UnderPressureMiddleware,
  type UnderPressureOptions,
  underPressure,
} from './under-pressure.js';
export { closeDefaultPool, getDefaultPool } from './default-pool.js';
export type { RequestSnapshot } from './snapshot.js';
export type { LocalsOption } from './take-snapshot.js';
export type { HttpErrorFields } from './errors.js';
export { OffThreadError, OffThreadErrorCode, isOffThreadError } from '@offthread/core';
