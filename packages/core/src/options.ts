import type { AsyncLocalStorage } from 'node:async_hooks';
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { type CarryOptions, readCarryOption } from './context.js';
import { checkProcessResourceLimits, type PoolRuntime, readRuntime } from './process-options.js';

/** Options of {@link Pool}. Every field is optional; see {@link defaultPoolOptions}. */
export interface PoolOptions {
  /**
   * The task module used when `run()` is called without a `filename`: an absolute path, a
   * `file:` URL string, or a URL (`new URL('./tasks.js', import.meta.url)`). `.js`, `.mjs`,
   * `.cjs` and TypeScript files are accepted.
   */
  filename?: string | URL;
  /** Threads kept alive even when idle. Defaults to half of `maxThreads`, at least 1. */
  minThreads?: number;
  /**
   * Most threads the pool starts. Defaults to `os.availableParallelism()` divided by the number
   * of sibling processes when it can be known (`OFFTHREAD_PROCESS_COUNT`, or PM2's `instances`).
   */
  maxThreads?: number;
  /** A thread above `minThreads` idle for this long (ms) is stopped. Defaults to 30 000. */
  idleTimeout?: number;
  /**
   * Default `queueTimeout` (ms) of every task: how long it may wait to start before it rejects
   * with ERR_OFFTHREAD_QUEUE_TIMEOUT. Defaults to `Infinity` (wait as long as it takes).
   */
  queueTimeout?: number;
  /**
   * Most tasks accepted but not yet started, wherever they wait. Past it `run()` rejects at once
   * with ERR_OFFTHREAD_QUEUE_FULL. Defaults to 1024; `Infinity` disables the bound.
   */
  maxQueue?: number;
  /** Tasks one thread runs at the same time. Only useful for async tasks. Defaults to 1. */
  concurrentTasksPerWorker?: number;
  /**
   * Default `timeout` (ms) of every task, counted from when it starts running. Defaults to none
   * (`Infinity`).
   */
  taskTimeout?: number;
  /**
   * How long (ms) a running task whose signal was aborted may take to stop by itself before its
   * thread is terminated. Defaults to 500.
   */
  abortGracePeriod?: number;
  /**
   * V8 limits for each thread, each a positive number of MB: `maxOldGenerationSizeMb`,
   * `maxYoungGenerationSizeMb`, `codeRangeSizeMb`, `stackSizeMb`. A thread that exceeds its heap
   * fails with ERR_OFFTHREAD_OUT_OF_MEMORY.
   */
  resourceLimits?: ResourceLimits;
  /**
   * Environment of the threads: string values; a key set to `undefined` is left out. Defaults
   * to a copy of `process.env` at thread start.
   */
  env?: Record<string, string | undefined>;
  /** Node CLI options for the threads, as an array of strings. Defaults to inheriting the process's. */
  execArgv?: string[];
  /**
   * Any value the structured clone algorithm can copy (no functions, symbols, sockets), readable
   * in threads with `getWorkerData()` from `@offthread/core/worker`.
   */
  workerData?: unknown;
  /** A name for the pool, shown in thread names, errors and stats. Defaults to 'offthread'. */
  name?: string;
  /**
   * Recycle a thread after it was given this many tasks: it takes no more, finishes the ones it
   * has, exits gracefully (its onThreadClose hooks run) and a new thread takes its place. No task
   * fails or runs twice because of it. For task code that leaks. Defaults to `Infinity` (never).
   */
  maxTasksPerThread?: number;
  /**
   * Recycle a thread (as with `maxTasksPerThread`) once its V8 heap in use passes this many MB,
   * as measured by the thread after its tasks settle. Set it well below
   * `resourceLimits.maxOldGenerationSizeMb` so a leak is recycled before it fails a task with
   * ERR_OFFTHREAD_OUT_OF_MEMORY. Defaults to `Infinity` (never; nothing is measured).
   */
  maxThreadHeapMb?: number;
  /**
   * When `@opentelemetry/api` (an optional peer) has a context manager registered and the caller
   * has a valid active span, that span's context crosses into the task: a thread that registers
   * OpenTelemetry too runs the task inside it, so spans it starts are children of the caller's.
   * Without an active span, or without OpenTelemetry, nothing is added to the task. `false` turns
   * it off. Defaults to true.
   */
  traceContext?: boolean;
  /**
   * AsyncLocalStorage instances whose current stores cross into each task, by key:
   * `{ requestId: requestIdStorage }`. Each store is copied (structured clone) when the task is
   * submitted; one that cannot be copied fails that task with ERR_OFFTHREAD_UNCLONEABLE naming
   * the key. In the thread, read them as `currentTask().carried.requestId`, or register the
   * thread's own storages with `restoreCarry({ requestId: requestIdStorage })` from
   * `@offthread/core/worker` so `requestIdStorage.getStore()` works there too. Defaults to none.
   */
  carry?: Record<string, AsyncLocalStorage<any>>;
  /**
   * Where tasks run: `'thread'` (worker threads) or `'process'` (child processes, for task code
   * that may take its process down: a native addon that segfaults, `process.abort()`). With
   * processes a crash fails only the task running there and the process is replaced; the API,
   * events and error codes are the same, values cross by the same structured clone, but
   * `transfer()` copies, starting a worker and each call cost more, and `threadId` is the
   * child's pid. resourceLimits: only `maxOldGenerationSizeMb` and `maxYoungGenerationSizeMb`
   * apply. Defaults to 'thread'.
   */
  runtime?: PoolRuntime;
}

/**
 * Options of one `pool.run()` call: a plain object (`{ name: 'resize' }`), read once. Unknown
 * keys are rejected. Durations are milliseconds up to 2^31-1 (what a timer can hold), or
 * `Infinity` for no limit.
 */
export interface RunOptions {
  /** The export to call. Defaults to 'default'. */
  name?: string;
  /** The task module for this call; defaults to the pool's `filename`. */
  filename?: string | URL;
  /** Aborting it removes a queued task, or signals a running one and then stops it. */
  signal?: AbortSignal;
  /** Objects to move rather than copy (see also `transfer()`). */
  transferList?: readonly Transferable[];
  /**
   * Stop the task after this many ms of running (queue time excluded). Overrides `taskTimeout`;
   * `Infinity` means no limit.
   */
  timeout?: number;
  /**
   * Reject with ERR_OFFTHREAD_QUEUE_TIMEOUT if the task has not started after waiting this many
   * ms. Such a task never ran, so it is safe to retry. Overrides the pool's `queueTimeout`.
   */
  queueTimeout?: number;
  /** Higher runs first among queued tasks. Defaults to 0. */
  priority?: number;
  /**
   * Called with each value the task reports with `currentTask().progress(value)` (cloned), in
   * order, until the task settles; later reports are dropped. Without it the thread sends none.
   */
  onProgress?: (value: any) => void;
}

type Transferable = import('node:worker_threads').Transferable;

/** How many processes on this machine share its cores, when the process manager tells us. */
export function siblingProcessCount(env: NodeJS.ProcessEnv = process.env): number {
  const explicit = Number(env.OFFTHREAD_PROCESS_COUNT);
  if (Number.isInteger(explicit) && explicit > 0) return explicit;
  // PM2 in cluster mode sets NODE_APP_INSTANCE and passes the `instances` setting through.
  const pm2 = Number(env.instances);
  if (env.NODE_APP_INSTANCE !== undefined && Number.isInteger(pm2) && pm2 > 0) return pm2;
  return 1;
}

export function defaultMaxThreads(): number {
  return Math.max(1, Math.floor(availableParallelism() / siblingProcessCount()));
}

/** The defaults, resolved for this machine. */
export const defaultPoolOptions = {
  get maxThreads() {
    return defaultMaxThreads();
  },
  get minThreads() {
    return Math.max(1, Math.floor(defaultMaxThreads() / 2));
  },
  idleTimeout: 30_000,
  queueTimeout: Number.POSITIVE_INFINITY,
  maxQueue: 1024,
  concurrentTasksPerWorker: 1,
  taskTimeout: undefined as number | undefined,
  abortGracePeriod: 500,
  name: 'offthread',
  maxTasksPerThread: Number.POSITIVE_INFINITY,
  maxThreadHeapMb: Number.POSITIVE_INFINITY,
  traceContext: true,
  runtime: 'thread' as PoolRuntime,
};

/** {@link PoolOptions} after validation, with defaults filled in. */
export interface ResolvedPoolOptions {
  filename: string | undefined;
  minThreads: number;
  maxThreads: number;
  idleTimeout: number;
  /** `Infinity` when tasks may wait as long as it takes. */
  queueTimeout: number;
  maxQueue: number;
  concurrentTasksPerWorker: number;
  /** `undefined` when tasks may run as long as they take. */
  taskTimeout: number | undefined;
  abortGracePeriod: number;
  resourceLimits: ResourceLimits | undefined;
  env: Record<string, string> | undefined;
  execArgv: string[] | undefined;
  workerData: unknown;
  name: string;
  /** `Infinity` when threads are never recycled for the number of tasks they ran. */
  maxTasksPerThread: number;
  /** `Infinity` when threads are never recycled for their heap (nothing is measured then). */
  maxThreadHeapMb: number;
  traceContext: boolean;
  /** A frozen copy; `undefined` when nothing is carried. */
  carry: CarryOptions | undefined;
  runtime: PoolRuntime;
}

/**
 * The longest delay a Node timer can hold (ms, about 24.8 days). A longer one fires after 1 ms
 * with a TimeoutOverflowWarning, so a duration above it would silently become "now".
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function checkPositiveInteger(value: unknown, path: string, allowZero = false): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(
      `${path} must be ${allowZero ? 'a non-negative' : 'a positive'} integer, got ${describe(value)}`,
    );
  }
  if (value < (allowZero ? 0 : 1)) {
    throw new RangeError(
      `${path} must be ${allowZero ? 'a non-negative' : 'a positive'} integer, got ${value}`,
    );
  }
}

/**
 * A number of milliseconds a timer can wait for: 0 to {@link MAX_TIMER_MS}, or `Infinity` for
 * no limit when `allowInfinity`.
 */
function checkDuration(value: unknown, path: string, allowInfinity = false): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${path} must be a number of milliseconds, got ${describe(value)}`);
  }
  if (value === Number.POSITIVE_INFINITY && allowInfinity) return;
  if (value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(
      `${path} must be a number of milliseconds from 0 to ${MAX_TIMER_MS} (about 24.8 days, the longest a timer can wait)${allowInfinity ? ', or Infinity for no limit' : ''}; got ${value}`,
    );
  }
}

/**
 * A task's time limit (timeout, queueTimeout): a duration above 0, or Infinity. 0 is refused as the
 * adapters refuse it: it cannot mean "no limit" (that is Infinity) and as a limit it would fail
 * every task, or race a quick one against a 0 ms timer, so it is always a mistake.
 */
function checkTimeLimit(value: unknown, path: string): void {
  checkDuration(value, path, true);
  if (value === 0)
    throw new RangeError(`${path} must be > 0 ms, got 0. Use Infinity for no limit.`);
}

/** A short description of a bad value for an error message. Never runs user code that throws. */
function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return value.toString();
    case 'bigint':
      return `${value}n`;
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'an array';
      if (isPlainObject(value)) return 'an object';
      let tag = 'object';
      try {
        tag = Object.prototype.toString.call(value).slice(8, -1);
      } catch {}
      return `an instance of ${tag}`;
    }
    default:
      return String(value);
  }
}

/**
 * An object literal (or `Object.create(null)`), from any realm: its prototype is null or an
 * `Object.prototype`. Rules out arrays, class instances (an AbortSignal passed by mistake) and
 * boxed primitives.
 */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * Copy the known keys of an options object, each read once, from its own enumerable properties
 * only: an inherited (polluted) `Object.prototype.filename` is not an option, and a getter is
 * not asked twice. An own property set to `undefined` counts as absent.
 */
function snapshot<K extends string>(
  options: object,
  known: readonly K[],
  path: string,
  what: string,
): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = Object.create(null);
  for (const key of Object.keys(options)) {
    if (!(known as readonly string[]).includes(key)) {
      throw new TypeError(
        `${path}.${key} is not ${what}. Known options: ${known.join(', ')}. Check the spelling.`,
      );
    }
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) out[key as K] = value;
  }
  return out;
}

const poolOptionKeys = [
  'filename',
  'minThreads',
  'maxThreads',
  'idleTimeout',
  'queueTimeout',
  'maxQueue',
  'concurrentTasksPerWorker',
  'taskTimeout',
  'abortGracePeriod',
  'resourceLimits',
  'env',
  'execArgv',
  'workerData',
  'name',
  'maxTasksPerThread',
  'maxThreadHeapMb',
  'traceContext',
  'carry',
  'runtime',
] as const;

const resourceLimitKeys = [
  'maxOldGenerationSizeMb',
  'maxYoungGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
] as const;

function readResourceLimits(value: unknown): ResourceLimits {
  const path = 'options.resourceLimits';
  if (!isPlainObject(value)) {
    throw new TypeError(
      `${path} must be an object like { maxOldGenerationSizeMb: 256 }, got ${describe(value)}`,
    );
  }
  const limits = snapshot(value, resourceLimitKeys, path, 'a resource limit');
  const out: ResourceLimits = {};
  for (const key of resourceLimitKeys) {
    const limit = limits[key];
    if (limit === undefined) continue;
    if (typeof limit !== 'number' || Number.isNaN(limit)) {
      throw new TypeError(`${path}.${key} must be a number of megabytes, got ${describe(limit)}`);
    }
    if (!(limit > 0) || !Number.isFinite(limit)) {
      throw new RangeError(
        `${path}.${key} must be a positive, finite number of megabytes, got ${limit}. Leave it out to use Node's default.`,
      );
    }
    out[key] = limit;
  }
  return out;
}

function readEnv(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(
      `options.env must be an object of environment variables (string values), got ${describe(value)}`,
    );
  }
  // The keys are the user's; a plain object would let a key named '__proto__' go missing.
  const env: Record<string, string> = Object.create(null);
  for (const key of Object.keys(value)) {
    const entry = (value as Record<string, unknown>)[key];
    if (entry === undefined) continue;
    if (typeof entry !== 'string') {
      throw new TypeError(
        `options.env.${key} must be a string (environment variables are strings), got ${describe(entry)}. Convert it with String(), or leave it out.`,
      );
    }
    env[key] = entry;
  }
  return env;
}

function readExecArgv(value: unknown): string[] {
  const fix = 'options.execArgv must be an array of strings, like ["--enable-source-maps"]';
  if (!Array.isArray(value)) throw new TypeError(`${fix}, got ${describe(value)}`);
  const args = Array.prototype.slice.call(value) as unknown[];
  for (let i = 0; i < args.length; i++) {
    if (typeof args[i] !== 'string') {
      throw new TypeError(`${fix}; options.execArgv[${i}] is ${describe(args[i])}`);
    }
  }
  return args as string[];
}

/** workerData is copied into every thread; a value that cannot be copied must fail here, not at a lazy thread start. */
function checkWorkerData(value: unknown): void {
  try {
    structuredClone(value);
  } catch (error) {
    throw new TypeError(
      `options.workerData must be a value worker threads can copy (plain data: objects, arrays, strings, numbers, typed arrays, Map, Set, Date; no functions, symbols or class instances with methods): ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }
}

/**
 * Validate user options and fill in defaults. The options are read once, from own properties,
 * into a snapshot that is validated and used.
 *
 * @throws {TypeError | RangeError} naming the option and how to fix it.
 */
export function resolvePoolOptions(
  options: PoolOptions | undefined,
  resolveFile: (f: unknown, path: string) => string,
): ResolvedPoolOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(
      `options must be an object like { filename, maxThreads }, got ${describe(options)}`,
    );
  }
  const o = snapshot(options, poolOptionKeys, 'options', 'a Pool option');
  if (o.maxThreads !== undefined) checkPositiveInteger(o.maxThreads, 'options.maxThreads');
  if (o.minThreads !== undefined) checkPositiveInteger(o.minThreads, 'options.minThreads', true);
  const maxThreads =
    (o.maxThreads as number | undefined) ??
    Math.max(defaultMaxThreads(), (o.minThreads as number | undefined) ?? 0);
  const minThreads =
    (o.minThreads as number | undefined) ?? Math.min(maxThreads, defaultPoolOptions.minThreads);
  if (minThreads > maxThreads) {
    throw new RangeError(
      `options.minThreads (${minThreads}) must not be greater than options.maxThreads (${maxThreads})`,
    );
  }
  if (o.idleTimeout !== undefined) checkDuration(o.idleTimeout, 'options.idleTimeout', true);
  if (o.queueTimeout !== undefined) checkTimeLimit(o.queueTimeout, 'options.queueTimeout');
  if (o.maxQueue !== undefined && o.maxQueue !== Number.POSITIVE_INFINITY) {
    checkPositiveInteger(o.maxQueue, 'options.maxQueue', true);
  }
  if (o.concurrentTasksPerWorker !== undefined)
    checkPositiveInteger(o.concurrentTasksPerWorker, 'options.concurrentTasksPerWorker');
  if (o.taskTimeout !== undefined) checkTimeLimit(o.taskTimeout, 'options.taskTimeout');
  if (o.abortGracePeriod !== undefined)
    checkDuration(o.abortGracePeriod, 'options.abortGracePeriod');
  const resourceLimits =
    o.resourceLimits === undefined ? undefined : readResourceLimits(o.resourceLimits);
  const env = o.env === undefined ? undefined : readEnv(o.env);
  const execArgv = o.execArgv === undefined ? undefined : readExecArgv(o.execArgv);
  if (o.workerData !== undefined) checkWorkerData(o.workerData);
  if (o.name !== undefined && typeof o.name !== 'string') {
    throw new TypeError(`options.name must be a string, got ${describe(o.name)}`);
  }
  if (o.maxTasksPerThread !== undefined && o.maxTasksPerThread !== Number.POSITIVE_INFINITY)
    checkPositiveInteger(o.maxTasksPerThread, 'options.maxTasksPerThread');
  if (o.maxThreadHeapMb !== undefined) checkHeapMb(o.maxThreadHeapMb, 'options.maxThreadHeapMb');
  if (o.traceContext !== undefined && typeof o.traceContext !== 'boolean') {
    throw new TypeError(
      `options.traceContext must be true or false, got ${describe(o.traceContext)}`,
    );
  }
  const carry = o.carry === undefined ? undefined : readCarryOption(o.carry, describe);
  const runtime = readRuntime(o.runtime, describe);
  if (runtime === 'process') checkProcessResourceLimits(resourceLimits);
  const taskTimeout = o.taskTimeout as number | undefined;
  return {
    filename: o.filename === undefined ? undefined : resolveFile(o.filename, 'options.filename'),
    minThreads,
    maxThreads,
    idleTimeout: (o.idleTimeout as number | undefined) ?? defaultPoolOptions.idleTimeout,
    queueTimeout: (o.queueTimeout as number | undefined) ?? defaultPoolOptions.queueTimeout,
    maxQueue: (o.maxQueue as number | undefined) ?? defaultPoolOptions.maxQueue,
    concurrentTasksPerWorker:
      (o.concurrentTasksPerWorker as number | undefined) ??
      defaultPoolOptions.concurrentTasksPerWorker,
    taskTimeout: taskTimeout === Number.POSITIVE_INFINITY ? undefined : taskTimeout,
    abortGracePeriod:
      (o.abortGracePeriod as number | undefined) ?? defaultPoolOptions.abortGracePeriod,
    resourceLimits,
    env,
    execArgv,
    workerData: o.workerData,
    name: (o.name as string | undefined) ?? defaultPoolOptions.name,
    maxTasksPerThread:
      (o.maxTasksPerThread as number | undefined) ?? defaultPoolOptions.maxTasksPerThread,
    maxThreadHeapMb:
      (o.maxThreadHeapMb as number | undefined) ?? defaultPoolOptions.maxThreadHeapMb,
    traceContext: (o.traceContext as boolean | undefined) ?? defaultPoolOptions.traceContext,
    carry,
    runtime,
  };
}

/** A heap threshold: a positive number of MB, or `Infinity` for none. */
function checkHeapMb(value: unknown, path: string): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(
      `${path} must be a positive number of MB (or Infinity to never recycle), got ${describe(value)}`,
    );
  }
  if (!(value > 0)) {
    throw new RangeError(
      `${path} must be a positive number of MB (or Infinity to never recycle), got ${value}`,
    );
  }
}

/**
 * One `run()` call's options, read once from the caller's object (own properties only) and
 * validated. Fields the caller left out (or set to `undefined`) are `undefined`.
 */
export interface RunOptionsSnapshot {
  /** A non-empty export name. */
  readonly name: string | undefined;
  /** As given (a string or a URL); the pool resolves and checks it. */
  readonly filename: string | URL | undefined;
  /** Not NaN. */
  readonly priority: number | undefined;
  /** 0 to {@link MAX_TIMER_MS} ms, or `Infinity` (no limit, overriding the pool's `taskTimeout`). */
  readonly timeout: number | undefined;
  /** 0 to {@link MAX_TIMER_MS} ms, or `Infinity` (no limit, overriding the pool's `queueTimeout`). */
  readonly queueTimeout: number | undefined;
  readonly signal: AbortSignal | undefined;
  /** A copy of the caller's array. */
  readonly transferList: readonly Transferable[] | undefined;
  readonly onProgress: ((value: unknown) => void) | undefined;
}

const runOptionKeys = [
  'name',
  'filename',
  'priority',
  'timeout',
  'queueTimeout',
  'signal',
  'transferList',
  'onProgress',
] as const;

const noRunOptions: RunOptionsSnapshot = Object.freeze({
  name: undefined,
  filename: undefined,
  priority: undefined,
  timeout: undefined,
  queueTimeout: undefined,
  signal: undefined,
  transferList: undefined,
  onProgress: undefined,
});

/**
 * Read and validate the options of one `run()` call.
 *
 * @param options `undefined` or a plain object with {@link RunOptions} fields
 * @throws {TypeError | RangeError} naming `options` or `options.<field>` and how to fix it:
 * `run(arg, 'inc')` is a TypeError that suggests `{ name: 'inc' }`.
 */
export function readRunOptions(options: unknown): RunOptionsSnapshot {
  if (options === undefined) return noRunOptions;
  if (!isPlainObject(options)) {
    const hint =
      typeof options === 'string'
        ? ` To call the export ${JSON.stringify(options)}, pass { name: ${JSON.stringify(options)} }.`
        : '';
    throw new TypeError(
      `options must be an object like { name: 'resize', timeout: 5000 }, got ${describe(options)}.${hint}`,
    );
  }
  const o = snapshot(options, runOptionKeys, 'options', 'a run() option');
  const { name, filename, priority, timeout, queueTimeout, signal, transferList, onProgress } = o;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TypeError(
      `options.onProgress must be a function (value) => void, got ${describe(onProgress)}`,
    );
  }
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new TypeError(
      `options.name must be the name of an exported function (a non-empty string), got ${describe(name)}`,
    );
  }
  if (filename !== undefined && typeof filename !== 'string' && !(filename instanceof URL)) {
    throw new TypeError(
      `options.filename must be an absolute path or a file URL (new URL('./tasks.js', import.meta.url)), got ${describe(filename)}`,
    );
  }
  if (priority !== undefined && (typeof priority !== 'number' || Number.isNaN(priority))) {
    throw new TypeError(`options.priority must be a number, got ${describe(priority)}`);
  }
  if (timeout !== undefined) checkTimeLimit(timeout, 'options.timeout');
  if (queueTimeout !== undefined) checkTimeLimit(queueTimeout, 'options.queueTimeout');
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
  }
  let list: readonly Transferable[] | undefined;
  if (transferList !== undefined) {
    if (!Array.isArray(transferList)) {
      throw new TypeError(
        `options.transferList must be an array of transferable objects (ArrayBuffer, MessagePort, ...), got ${describe(transferList)}`,
      );
    }
    list = Array.prototype.slice.call(transferList) as Transferable[];
  }
  return {
    name: name as string | undefined,
    filename: filename as string | URL | undefined,
    priority: priority as number | undefined,
    timeout: timeout as number | undefined,
    queueTimeout: queueTimeout as number | undefined,
    signal: signal as AbortSignal | undefined,
    transferList: list,
    onProgress: onProgress as ((value: unknown) => void) | undefined,
  };
}

/** Options of one `pool.stream()` call: those of `run()`, plus the stream's `window`. */
export interface StreamOptions extends RunOptions {
  /**
   * How many values the thread may yield ahead of the consumer (credit-based backpressure):
   * it pulls the generator only while fewer than `window` values wait unread. An integer from
   * 1 to 1024. Defaults to 8.
   */
  window?: number;
}

/** The default of {@link StreamOptions.window}. */
export const DEFAULT_STREAM_WINDOW = 8;
/** The largest {@link StreamOptions.window}: it travels in the Run flags (protocol.ts). */
export const MAX_STREAM_WINDOW = 1024;

/**
 * Read and validate the options of one `stream()` call: the window, and the rest as run options.
 * @throws {TypeError | RangeError} naming the option, like {@link readRunOptions}.
 */
export function readStreamOptions(options: unknown): {
  window: number;
  run: RunOptionsSnapshot;
} {
  if (!isPlainObject(options) || !Object.hasOwn(options, 'window'))
    return { window: DEFAULT_STREAM_WINDOW, run: readRunOptions(options) };
  // Own properties, each read once: the window is taken out, the rest are run() options.
  const { window, ...rest } = options;
  if (window === undefined) return { window: DEFAULT_STREAM_WINDOW, run: readRunOptions(rest) };
  if (
    typeof window !== 'number' ||
    !Number.isInteger(window) ||
    window < 1 ||
    window > MAX_STREAM_WINDOW
  ) {
    throw new RangeError(
      `options.window must be an integer from 1 to ${MAX_STREAM_WINDOW} (values the thread may yield ahead of the consumer), got ${describe(window)}`,
    );
  }
  return { window, run: readRunOptions(rest) };
}

/** `pool.close()` options, read once from own properties. */
export interface CloseOptionsSnapshot {
  /** 0 to {@link MAX_TIMER_MS} ms, `Infinity`, or `undefined` (no deadline). */
  readonly timeout: number | undefined;
}

/**
 * Read and validate the options of `pool.close()`.
 *
 * @throws {TypeError | RangeError} naming `options` or `options.timeout`.
 */
export function readCloseOptions(options: unknown): CloseOptionsSnapshot {
  if (options === undefined) return { timeout: undefined };
  if (!isPlainObject(options)) {
    throw new TypeError(
      `options must be an object like { timeout: 10000 }, got ${describe(options)}`,
    );
  }
  const { timeout } = snapshot(options, ['timeout'] as const, 'options', 'a close() option');
  if (timeout !== undefined) checkDuration(timeout, 'options.timeout', true);
  return { timeout: timeout as number | undefined };
}

/** `pool.preload()` options, read once from own properties. */
export interface PreloadOptionsSnapshot {
  /** As given (a string or a URL); the pool resolves and checks it. */
  readonly filename: string | URL | undefined;
  /** A copy of the caller's list of non-empty export names. */
  readonly names: readonly string[] | undefined;
}

/**
 * Read and validate the options of `pool.preload()`.
 *
 * @throws {TypeError} naming `options`, `options.filename` or `options.names`.
 */
export function readPreloadOptions(options: unknown): PreloadOptionsSnapshot {
  if (options === undefined) return { filename: undefined, names: undefined };
  if (!isPlainObject(options)) {
    throw new TypeError(
      `options must be an object like { names: ['resize'] }, got ${describe(options)}`,
    );
  }
  const o = snapshot(options, ['filename', 'names'] as const, 'options', 'a preload() option');
  const { filename } = o;
  if (filename !== undefined && typeof filename !== 'string' && !(filename instanceof URL)) {
    throw new TypeError(
      `options.filename must be an absolute path or a file URL (new URL('./tasks.js', import.meta.url)), got ${describe(filename)}`,
    );
  }
  let names: string[] | undefined;
  if (o.names !== undefined) {
    if (!Array.isArray(o.names)) {
      throw new TypeError(
        `options.names must be an array of export names, like ['default', 'resize'], got ${describe(o.names)}`,
      );
    }
    names = Array.prototype.slice.call(o.names) as string[];
    names.forEach((name: unknown, i) => {
      if (typeof name !== 'string' || name === '') {
        throw new TypeError(
          `options.names[${i}] must be an export name (a non-empty string), got ${describe(name)}`,
        );
      }
    });
  }
  return { filename: filename as string | URL | undefined, names };
}

export { checkDuration, describe, isPlainObject };

/** Options of `pool.broadcast()`. Every field is optional. */
export interface BroadcastOptions {
  /** The export to call on each thread. Defaults to 'default'. */
  name?: string;
  /** The task module; defaults to the pool's `filename`. */
  filename?: string | URL;
  /** Stop the call on a thread after this many ms of running, as `run()`'s `timeout`. */
  timeout?: number;
  /**
   * Also run it, first thing, on every thread the pool starts later (replacements, threads
   * added under load). The latest argument per export is kept. Defaults to false.
   */
  includeFutureThreads?: boolean;
}

/** `pool.broadcast()` options, read once from own properties and validated. */
export interface BroadcastOptionsSnapshot {
  readonly name: string | undefined;
  readonly filename: string | URL | undefined;
  readonly timeout: number | undefined;
  readonly includeFutureThreads: boolean;
}

/**
 * Read and validate the options of `pool.broadcast()`.
 *
 * @throws {TypeError | RangeError} naming the option and how to fix it.
 */
export function readBroadcastOptions(options: unknown): BroadcastOptionsSnapshot {
  if (options === undefined)
    return {
      name: undefined,
      filename: undefined,
      timeout: undefined,
      includeFutureThreads: false,
    };
  if (!isPlainObject(options)) {
    throw new TypeError(
      `options must be an object like { name: 'reloadConfig', includeFutureThreads: true }, got ${describe(options)}`,
    );
  }
  const o = snapshot(
    options,
    ['name', 'filename', 'timeout', 'includeFutureThreads'] as const,
    'options',
    'a broadcast() option',
  );
  const { name, filename, timeout, includeFutureThreads } = o;
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new TypeError(
      `options.name must be the name of an exported function (a non-empty string), got ${describe(name)}`,
    );
  }
  if (filename !== undefined && typeof filename !== 'string' && !(filename instanceof URL)) {
    throw new TypeError(
      `options.filename must be an absolute path or a file URL (new URL('./tasks.js', import.meta.url)), got ${describe(filename)}`,
    );
  }
  if (timeout !== undefined) checkTimeLimit(timeout, 'options.timeout');
  if (includeFutureThreads !== undefined && typeof includeFutureThreads !== 'boolean') {
    throw new TypeError(
      `options.includeFutureThreads must be true or false, got ${describe(includeFutureThreads)}`,
    );
  }
  return {
    name: name as string | undefined,
    filename: filename as string | URL | undefined,
    timeout: timeout as number | undefined,
    includeFutureThreads: includeFutureThreads === true,
  };
}
