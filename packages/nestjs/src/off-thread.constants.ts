/**
 * Injection tokens and metadata keys. Keys are registered symbols or plain strings so that the
 * CJS and ESM builds of this package (both can end up loaded in one process) agree on them.
 */

/** Injection token of the `Pool` created by `OffThreadModule`. Prefer `@InjectPool()`. */
export const OFFTHREAD_POOL = 'offthread:pool';

/** Injection token of the resolved `OffThreadModuleOptions`. */
export const OFFTHREAD_MODULE_OPTIONS = 'offthread:module-options';

/** Where `@OffThread()` keeps what it learnt about a class, on the class's prototype. */
export const kOffThreadClass: unique symbol = Symbol.for('offthread.nestjs.class') as never;
