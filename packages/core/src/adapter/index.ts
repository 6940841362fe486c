/**
 * @offthread/core/adapter: the pieces every framework adapter shares, so that
 * `@offthread/express`, `@offthread/nestjs` and your own adapter resolve module paths, check
 * options, run start-up checks and answer pool failures over HTTP the same way.
 * @module
 */

export { deserializeError, type SerializedError, serializeError } from './errors.js';
export {
  CLIENT_GONE,
  type HttpErrorFields,
  type PoolErrorResponse,
  poolErrorBody,
  poolErrorResponse,
  withHttpFields,
} from './http.js';
export { type LoadExportOptions, loadExport } from './load-export.js';
export { type ResolveModulePathOptions, resolveModulePath } from './module-path.js';
export {
  checkBooleanOption,
  checkDurationOption,
  checkPriorityOption,
  checkRetryAfterOption,
  defaultAdapterOptions,
  describeValue,
  MAX_TIMER_MS,
  readOptionBag,
} from './options.js';
export { processSingleton } from './process-state.js';
export { type InlineTaskOptions, runAsTask } from './run-as-task.js';
export {
  createStartupRegistry,
  retryWhileQueueFull,
  type StartupCheck,
  type StartupRegistry,
  startupRegistry,
  type TrackOptions,
} from './startup.js';
