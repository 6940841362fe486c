import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';

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
   * Most tasks accepted but not yet started, wherever they wait. Past it `run()` rejects at once
   * with ERR_OFFTHREAD_QUEUE_FULL. Defaults to 1024; `Infinity` disables the bound.
   */
  maxQueue?: number;
  /** Tasks one thread runs at the same time. Only useful for async tasks. Defaults to 1. */
  concurrentTasksPerWorker?: number;
  /** Default `timeout` (ms) of every task, counted from when it starts running. Defaults to none. */
  taskTimeout?: number;
  /**
   * How long (ms) a running task whose signal was aborted may take to stop by itself before its
   * thread is terminated. Defaults to 500.
   */
  abortGracePeriod?: number;
  /** V8 heap limits for each thread; a thread that exceeds them fails with ERR_OFFTHREAD_OUT_OF_MEMORY. */
  resourceLimits?: ResourceLimits;
  /** Environment of the threads. Defaults to a copy of `process.env` at thread start. */
  env?: Record<string, string | undefined>;
  /** Node CLI options for the threads. Defaults to inheriting the process's. */
  execArgv?: string[];
  /** Any cloneable value, readable in threads with `getWorkerData()` from `@offthread/core/worker`. */
  workerData?: unknown;
  /** A name for the pool, shown in thread names, errors and stats. Defaults to 'offthread'. */
  name?: string;
}

/** Options of one `pool.run()` call. */
export interface RunOptions {
  /** The export to call. Defaults to 'default'. */
  name?: string;
  /** The task module for this call; defaults to the pool's `filename`. */
  filename?: string | URL;
  /** Aborting it removes a queued task, or signals a running one and then stops it. */
  signal?: AbortSignal;
  /** Objects to move rather than copy (see also `transfer()`). */
  transferList?: readonly Transferable[];
  /** Stop the task after this many ms of running (queue time excluded). Overrides `taskTimeout`. */
  timeout?: number;
  /** Higher runs first among queued tasks. Defaults to 0. */
  priority?: number;
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
  maxQueue: 1024,
  concurrentTasksPerWorker: 1,
  taskTimeout: undefined as number | undefined,
  abortGracePeriod: 500,
  name: 'offthread',
};

export interface ResolvedPoolOptions {
  filename: string | undefined;
  minThreads: number;
  maxThreads: number;
  idleTimeout: number;
  maxQueue: number;
  concurrentTasksPerWorker: number;
  taskTimeout: number | undefined;
  abortGracePeriod: number;
  resourceLimits: ResourceLimits | undefined;
  env: Record<string, string | undefined> | undefined;
  execArgv: string[] | undefined;
  workerData: unknown;
  name: string;
}

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

function checkDuration(value: unknown, path: string, allowInfinity = false): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${path} must be a number of milliseconds, got ${describe(value)}`);
  }
  if (value < 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new RangeError(
      `${path} must be a ${allowInfinity ? '' : 'finite '}number of milliseconds >= 0, got ${value}`,
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

const knownOptions = new Set([
  'filename',
  'minThreads',
  'maxThreads',
  'idleTimeout',
  'maxQueue',
  'concurrentTasksPerWorker',
  'taskTimeout',
  'abortGracePeriod',
  'resourceLimits',
  'env',
  'execArgv',
  'workerData',
  'name',
]);

/** Validate user options and fill in defaults. Throws TypeError/RangeError naming the option. */
export function resolvePoolOptions(
  options: PoolOptions | undefined,
  resolveFile: (f: unknown, path: string) => string,
): ResolvedPoolOptions {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!knownOptions.has(key)) {
      throw new TypeError(
        `options.${key} is not a Pool option. Known options: ${[...knownOptions].join(', ')}`,
      );
    }
  }
  const o = options;
  if (o.maxThreads !== undefined) checkPositiveInteger(o.maxThreads, 'options.maxThreads');
  if (o.minThreads !== undefined) checkPositiveInteger(o.minThreads, 'options.minThreads', true);
  const maxThreads = o.maxThreads ?? Math.max(defaultMaxThreads(), o.minThreads ?? 0);
  const minThreads = o.minThreads ?? Math.min(maxThreads, defaultPoolOptions.minThreads);
  if (minThreads > maxThreads) {
    throw new RangeError(
      `options.minThreads (${minThreads}) must not be greater than options.maxThreads (${maxThreads})`,
    );
  }
  if (o.idleTimeout !== undefined) checkDuration(o.idleTimeout, 'options.idleTimeout', true);
  if (o.maxQueue !== undefined) {
    if (o.maxQueue !== Number.POSITIVE_INFINITY)
      checkPositiveInteger(o.maxQueue, 'options.maxQueue', true);
  }
  if (o.concurrentTasksPerWorker !== undefined)
    checkPositiveInteger(o.concurrentTasksPerWorker, 'options.concurrentTasksPerWorker');
  if (o.taskTimeout !== undefined) checkDuration(o.taskTimeout, 'options.taskTimeout', true);
  if (o.abortGracePeriod !== undefined)
    checkDuration(o.abortGracePeriod, 'options.abortGracePeriod');
  if (
    o.resourceLimits !== undefined &&
    (o.resourceLimits === null || typeof o.resourceLimits !== 'object')
  ) {
    throw new TypeError(
      `options.resourceLimits must be an object like { maxOldGenerationSizeMb: 256 }, got ${describe(o.resourceLimits)}`,
    );
  }
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object')) {
    throw new TypeError(
      `options.env must be an object of environment variables, got ${describe(o.env)}`,
    );
  }
  if (
    o.execArgv !== undefined &&
    (!Array.isArray(o.execArgv) || o.execArgv.some((a) => typeof a !== 'string'))
  ) {
    throw new TypeError(
      'options.execArgv must be an array of strings, like ["--enable-source-maps"]',
    );
  }
  if (o.name !== undefined && typeof o.name !== 'string') {
    throw new TypeError(`options.name must be a string, got ${describe(o.name)}`);
  }
  return {
    filename: o.filename === undefined ? undefined : resolveFile(o.filename, 'options.filename'),
    minThreads,
    maxThreads,
    idleTimeout: o.idleTimeout ?? defaultPoolOptions.idleTimeout,
    maxQueue: o.maxQueue ?? defaultPoolOptions.maxQueue,
    concurrentTasksPerWorker:
      o.concurrentTasksPerWorker ?? defaultPoolOptions.concurrentTasksPerWorker,
    taskTimeout: o.taskTimeout === Number.POSITIVE_INFINITY ? undefined : o.taskTimeout,
    abortGracePeriod: o.abortGracePeriod ?? defaultPoolOptions.abortGracePeriod,
    resourceLimits: o.resourceLimits,
    env: o.env,
    execArgv: o.execArgv,
    workerData: o.workerData,
    name: o.name ?? defaultPoolOptions.name,
  };
}

export { checkDuration, describe };
