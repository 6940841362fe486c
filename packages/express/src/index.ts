/**
 * @offthread/express: run Express handlers in a worker-thread pool, and shed load when the
 * event loop is unhealthy.
 * @module
 */

export { isOffThreadError, OffThreadError, OffThreadErrorCode } from '@offthread/core';
export { closeDefaultPool, getDefaultPool } from './default-pool.js';
export type { HttpErrorFields } from './errors.js';
export {
  defaultOffThreadOptions,
  type OffThreadMiddleware,
  type OffThreadOptions,
  offThread,
  offThreadReady,
} from './off-thread.js';
export type { RequestSnapshot } from './snapshot.js';
export type { LocalsOption } from './take-snapshot.js';
export {
  defaultUnderPressureOptions,
  type PressureMetrics,
  PressureType,
  type UnderPressureMiddleware,
  type UnderPressureOptions,
  underPressure,
} from './under-pressure.js';
