import type { LogLevel, Type } from '@nestjs/common';
import { isTaskPool, type PoolOptions, type TaskPool } from '@offthread/core';
import {
  checkBooleanOption,
  checkDurationOption,
  checkPriorityOption,
  checkRetryAfterOption,
  defaultAdapterOptions,
  describeValue,
  MAX_TIMER_MS,
  readOptionBag,
  resolveModulePath,
} from '@offthread/core/adapter';

/**
 * Options of `OffThreadModule.forRoot()`: every {@link PoolOptions} field (threads, queue,
 * timeouts, resource limits...) plus the Nest-specific ones below. Every field is optional;
 * see {@link defaultOffThreadModuleOptions}.
 */
export interface OffThreadModuleOptions extends PoolOptions {
  /**
   * Run the calls on this pool instead of creating one: a `Pool` of `@offthread/core`, or any
   * other {@link TaskPool} (e.g. a `RemotePool` that runs them in other processes). The module
   * does not close a pool it did not create: close it yourself. Pool options (`maxThreads`...)
   * cannot be combined with it. Defaults to a new `Pool` made from the pool options.
   */
  pool?: TaskPool;
  /**
   * Run `@OffThread()` methods on the main thread, on the app's own instances, instead of in
   * pool threads (arguments and results are still copied by structured clone, and registered
   * result classes restored, as between threads). Meant for tests: providers replaced with
   * `Test.createTestingModule(...).overrideProvider(X)` are then the ones the methods see.
   * `'auto'` is inline in a testing module made by `Test.createTestingModule()` and in threads
   * everywhere else. Defaults to 'auto'.
   */
  inline?: boolean | 'auto';
  /**
   * Classes whose instances `@OffThread()` methods return, restored on the main thread
   * (structured clone keeps only own data, so without this they arrive as plain objects:
   * `ClassSerializerInterceptor` and `@Exclude()` would no longer apply to them). Matched by
   * class name, at any depth of plain objects and arrays. Defaults to none.
   */
  classes?: Array<Type<unknown>>;
  /**
   * The module each worker thread bootstraps (once, lazily) with
   * `NestFactory.createApplicationContext()`. `@OffThread()` methods run on the instance this
   * context resolves, so their constructor dependencies must be reachable from it. Keep it
   * small: no HTTP, no database pools you do not need in a thread.
   * Defaults to the module that declares each `@OffThread()` provider.
   */
  workerModule?: Type<unknown>;
  /**
   * The file that exports `workerModule` (absolute path or `file:` URL). Only needed when it
   * cannot be found automatically: CommonJS apps (tsc, SWC, ts-node output) are searched,
   * ES module apps are not. Defaults to the file found in the CommonJS module cache.
   */
  workerModuleFile?: string | URL;
  /**
   * Log levels of the Nest context in each thread (`false` for none). Defaults to
   * `['error', 'warn']`.
   */
  workerLogger?: false | LogLevel[];
  /**
   * At start-up, bootstrap the worker context in a thread and resolve every `@OffThread()`
   * provider there, so a provider the worker cannot construct fails `app.init()` instead of
   * the first call. Defaults to true.
   */
  preflight?: boolean;
  /**
   * From when Nest closes the HTTP server on shutdown (at once without one), how long (ms) running
   * and queued calls, those of requests in flight included, may take to finish before they are
   * rejected with ERR_OFFTHREAD_POOL_CLOSED (503 over HTTP). `Infinity` waits for them however
   * long they take. Defaults to 10 000.
   */
  shutdownTimeout?: number;
  /**
   * Abort the off-thread calls of an HTTP request when its client disconnects (queued calls are
   * removed, running ones signalled then stopped). Defaults to true.
   */
  abortOnDisconnect?: boolean;
  /**
   * Answer pool errors raised while handling a request with the errors of its context: over
   * HTTP, queue full, queue wait exceeded, pool closing and timeout → 503 with `Retry-After`,
   * thread crash, out of memory, module failure, uncloneable data → 500 without internals;
   * `RpcException` in microservices, `WsException` in gateways, an error with
   * `extensions.code` in GraphQL. Defaults to true.
   */
  httpErrors?: boolean;
  /** Seconds sent in the `Retry-After` header of a 503. Defaults to 1. */
  retryAfter?: number;
  /**
   * Most ms a call made while handling a request (HTTP, microservice message, WebSocket event)
   * may wait in the queue before it answers 503 with `Retry-After`; a method's own
   * `queueTimeout` wins. Calls outside requests (cron jobs, queue consumers) use the pool's
   * `queueTimeout`. `Infinity` for no bound. Defaults to the pool option `queueTimeout` when
   * given, else 10 000 (the same default as `@offthread/express`).
   */
  requestQueueTimeout?: number;
  /**
   * Your own error classes thrown inside `@OffThread()` methods, so they arrive as instances of
   * their class (Nest's built-in HTTP exceptions are registered already). Defaults to none.
   */
  errors?: Array<new (...args: any[]) => Error>;
}

/** The defaults of the Nest-specific options (pool options default as in `@offthread/core`). */
export const defaultOffThreadModuleOptions = {
  inline: 'auto' as boolean | 'auto',
  workerLogger: ['error', 'warn'] as LogLevel[],
  preflight: true,
  shutdownTimeout: 10_000,
  abortOnDisconnect: true,
  httpErrors: true,
  retryAfter: defaultAdapterOptions.retryAfter,
  requestQueueTimeout: defaultAdapterOptions.queueTimeout,
};

/** Options of one `@OffThread()` method. Every field is optional. */
export interface OffThreadOptions {
  /** Stop the call after this many ms of running (queue time excluded). Defaults to the pool's `taskTimeout`. */
  timeout?: number;
  /**
   * Most ms the call may wait in the queue before it starts; past it, it rejects with
   * ERR_OFFTHREAD_QUEUE_TIMEOUT (503 with `Retry-After` over HTTP). Defaults to the pool's
   * `queueTimeout`.
   */
  queueTimeout?: number;
  /** Higher runs first among queued calls. Defaults to 0. */
  priority?: number;
  /**
   * Picks the objects to move rather than copy from the call's arguments, e.g.
   * `(buffer) => [buffer.buffer]`. Arguments wrapped in `transfer()` are moved too.
   * Defaults to none.
   */
  transfer?: (...args: any[]) => readonly (Transferable | ArrayBufferLike)[];
}

type Transferable = import('node:worker_threads').Transferable;

/** What `OffThreadModule` splits from the pool's options. */
export const moduleOnlyKeys = [
  'pool',
  'inline',
  'classes',
  'workerModule',
  'workerModuleFile',
  'workerLogger',
  'preflight',
  'shutdownTimeout',
  'abortOnDisconnect',
  'httpErrors',
  'retryAfter',
  'requestQueueTimeout',
  'errors',
] as const;

/** The module options after validation, with defaults filled in (what `OffThreadInterceptor` reads). */
export type ResolvedModuleOptions = Required<
  Pick<
    OffThreadModuleOptions,
    | 'workerLogger'
    | 'preflight'
    | 'shutdownTimeout'
    | 'abortOnDisconnect'
    | 'httpErrors'
    | 'retryAfter'
    | 'requestQueueTimeout'
    | 'errors'
    | 'inline'
  >
> & {
  workerModule: Type<unknown> | undefined;
  workerModuleFile: string | undefined;
  /** Options of the pool the module creates (empty when `existingPool` is given). */
  pool: PoolOptions;
  /** A pool the app passed in, which the module uses but does not own. */
  existingPool: TaskPool | undefined;
  /** Result classes by name. */
  classes: Map<string, Type<unknown>>;
};

/** Pool options that hold numbers: a string there is almost always an unconverted env value. */
const numericPoolKeys = [
  'minThreads',
  'maxThreads',
  'idleTimeout',
  'queueTimeout',
  'maxQueue',
  'concurrentTasksPerWorker',
  'taskTimeout',
  'abortGracePeriod',
] as const;

const describe = describeValue;

function checkMs(value: unknown, path: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${path} must be a number of milliseconds, got ${describe(value)}`);
  }
  if (value < 0)
    throw new RangeError(`${path} must be a number of milliseconds >= 0, got ${value}`);
  // Checked now, not when the app shuts down: the pool refuses what a timer cannot hold, and a
  // refusal at shutdown would leave the pool open.
  if (value > MAX_TIMER_MS && value !== Number.POSITIVE_INFINITY) {
    throw new RangeError(
      `${path} must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a timer can wait), or Infinity for no limit; got ${value}`,
    );
  }
}

/**
 * Validate `OffThreadModule` options and split them into pool options and module options.
 * Pool options are validated by the Pool itself.
 *
 * @throws {TypeError | RangeError} naming the option, e.g. `options.workerModule must be a Nest module class`
 */
export function resolveModuleOptions(
  options: OffThreadModuleOptions | undefined,
): ResolvedModuleOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`OffThreadModule options must be an object, got ${describe(options)}`);
  }
  const o = options;
  if (o.workerModule !== undefined && typeof o.workerModule !== 'function') {
    throw new TypeError(
      `options.workerModule must be a Nest module class (the class decorated with @Module()), got ${describe(o.workerModule)}`,
    );
  }
  let workerModuleFile: string | undefined;
  if (o.workerModuleFile !== undefined) {
    // The core's path rules; existence is checked at start-up, where a .ts source next to a
    // missing .js (Vitest, tsx) is taken instead.
    workerModuleFile = resolveModulePath(o.workerModuleFile, {
      label: 'options.workerModuleFile',
      mustExist: false,
    });
    if (o.workerModule === undefined) {
      throw new TypeError(
        'options.workerModuleFile needs options.workerModule: pass the module class too',
      );
    }
  }
  if (o.workerLogger !== undefined && o.workerLogger !== false && !Array.isArray(o.workerLogger)) {
    throw new TypeError(
      `options.workerLogger must be false or an array of log levels like ['error', 'warn'], got ${describe(o.workerLogger)}`,
    );
  }
  // The option rules of @offthread/core/adapter: the same values are valid in every adapter.
  checkBooleanOption(o.preflight, 'options.preflight');
  checkBooleanOption(o.abortOnDisconnect, 'options.abortOnDisconnect');
  checkBooleanOption(o.httpErrors, 'options.httpErrors');
  // 0 is a valid shutdown timeout (stop at once), unlike a task or queue timeout.
  checkMs(o.shutdownTimeout, 'options.shutdownTimeout');
  checkRetryAfterOption(o.retryAfter, 'options.retryAfter');
  checkDurationOption(o.requestQueueTimeout, 'options.requestQueueTimeout');
  if (
    o.errors !== undefined &&
    (!Array.isArray(o.errors) || o.errors.some((e) => typeof e !== 'function'))
  ) {
    throw new TypeError(
      'options.errors must be an array of Error subclasses, like [ReportTooLargeError]',
    );
  }
  if (o.inline !== undefined && typeof o.inline !== 'boolean' && o.inline !== 'auto') {
    throw new TypeError(`options.inline must be true, false or 'auto', got ${describe(o.inline)}`);
  }
  const classes = new Map<string, Type<unknown>>();
  if (o.classes !== undefined) {
    if (!Array.isArray(o.classes) || o.classes.some((c) => typeof c !== 'function')) {
      throw new TypeError(
        'options.classes must be an array of classes, like [UserEntity], whose instances @OffThread() methods return',
      );
    }
    for (const c of o.classes) {
      const other = classes.get(c.name);
      if (other !== undefined && other !== c) {
        throw new TypeError(
          `options.classes has two classes named ${c.name}: results are matched by class name, so give them distinct names`,
        );
      }
      classes.set(c.name, c);
    }
  }
  for (const key of numericPoolKeys) {
    const value = (o as Record<string, unknown>)[key];
    if (typeof value === 'string') {
      // Environment variables and ConfigService.get() give strings; say so rather than
      // guessing a conversion the core would not make for the same option.
      throw new TypeError(
        `options.${key} must be a number, got the string ${describe(value)}. Values from the environment or ConfigService are strings: convert them, e.g. ${key}: Number(config.get('MY_SETTING'))`,
      );
    }
  }
  // Unknown keys go on to the pool, whose error lists only pool options: a misspelt Nest option
  // (workerModul) would be reported as "not a Pool option". Catch those here, by name.
  for (const key of Object.keys(o)) {
    if ((moduleOnlyKeys as readonly string[]).includes(key)) continue;
    const meant = moduleOnlyKeys.find((known) => nearMiss(key, known));
    if (meant !== undefined) {
      throw new TypeError(
        `options.${key} is not an option of OffThreadModule: did you mean options.${meant}? Its options are every Pool option of @offthread/core plus ${moduleOnlyKeys.join(', ')}.`,
      );
    }
  }
  // The adapters' duration rule for the pool's timeouts too (core takes 0 for them): 0 would make
  // every call fail at once, taskTimeout with ERR_OFFTHREAD_TIMEOUT and queueTimeout (which also
  // becomes the default requestQueueTimeout) with ERR_OFFTHREAD_QUEUE_TIMEOUT, each a 503. Say so
  // at start-up, as @OffThread({ timeout: 0 }) does.
  checkDurationOption(o.taskTimeout, 'options.taskTimeout');
  checkDurationOption(o.queueTimeout, 'options.queueTimeout');
  const pool: Record<string, unknown> = { ...o };
  for (const key of moduleOnlyKeys) delete pool[key];
  let existingPool: TaskPool | undefined;
  if (o.pool !== undefined) {
    if (!isTaskPool(o.pool)) {
      throw new TypeError(
        `options.pool must be a pool of @offthread/core (new Pool()) or another TaskPool (run, stats, close, destroy), got ${describe(o.pool)}`,
      );
    }
    const poolKeys = Object.keys(pool).filter((k) => pool[k] !== undefined);
    if (poolKeys.length) {
      throw new TypeError(
        `options.pool cannot be combined with pool options (${poolKeys.map((k) => `options.${k}`).join(', ')}): set them where the pool is created`,
      );
    }
    existingPool = o.pool;
  }
  const d = defaultOffThreadModuleOptions;
  return {
    existingPool,
    classes,
    inline: o.inline ?? d.inline,
    workerModule: o.workerModule,
    workerModuleFile,
    workerLogger: o.workerLogger ?? d.workerLogger,
    preflight: o.preflight ?? d.preflight,
    shutdownTimeout: o.shutdownTimeout ?? d.shutdownTimeout,
    abortOnDisconnect: o.abortOnDisconnect ?? d.abortOnDisconnect,
    httpErrors: o.httpErrors ?? d.httpErrors,
    retryAfter: o.retryAfter ?? d.retryAfter,
    requestQueueTimeout:
      o.requestQueueTimeout ??
      (typeof o.queueTimeout === 'number' ? o.queueTimeout : d.requestQueueTimeout),
    errors: o.errors ?? [],
    pool: pool as PoolOptions,
  };
}

/** Same name but for case, or at most two edits apart (no pool option is that close to one). */
function nearMiss(key: string, known: string): boolean {
  const a = key.toLowerCase();
  const b = known.toLowerCase();
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 2) return false;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return (previous[b.length] ?? 0) <= 2;
}

/**
 * Validate `@OffThread()` options at class definition time.
 *
 * @throws {TypeError | RangeError} naming the option, e.g. `@OffThread() options.timeout must be ...`
 */
export function checkOffThreadOptions(options: unknown): OffThreadOptions {
  const o = readOptionBag(
    options,
    ['timeout', 'queueTimeout', 'priority', 'transfer'],
    '@OffThread() options',
  );
  checkDurationOption(o.timeout, '@OffThread() options.timeout');
  checkDurationOption(o.queueTimeout, '@OffThread() options.queueTimeout');
  checkPriorityOption(o.priority, '@OffThread() options.priority');
  if (o.transfer !== undefined && typeof o.transfer !== 'function') {
    throw new TypeError(
      `@OffThread() options.transfer must be a function of the arguments returning a transfer list, got ${describeValue(o.transfer)}`,
    );
  }
  return o as OffThreadOptions;
}
