/**
 * @offthread/nestjs: run NestJS provider methods in a worker-thread pool with `@OffThread()`,
 * dependency injection included.
 * @module
 */
export { OFFTHREAD_MODULE_OPTIONS, OFFTHREAD_POOL } from './off-thread.constants.js';
export { InjectPool, OffThread } from './off-thread.decorator.js';
export { OffThreadInterceptor } from './off-thread.interceptor.js';
export {
  OffThreadModule,
  type OffThreadModuleAsyncOptions,
  type OffThreadOptionsFactory,
} from './off-thread.module.js';
export {
  defaultOffThreadModuleOptions,
  type OffThreadModuleOptions,
  type OffThreadOptions,
  type ResolvedModuleOptions,
} from './off-thread.options.js';
export {
  type PoolErrorMeaning,
  poolErrorMeaning,
  toGraphQLError,
  toHttpException,
  toRpcException,
  toWsException,
} from './pool-errors.js';
