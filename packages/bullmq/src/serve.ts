import { hostname } from 'node:os';
import { deserialize } from 'node:v8';
import { isTaskPool, type Pool, type RunOptions } from '@offthread/core';
import { type ConnectionOptions, type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type RedisConnection, redisOptions } from './connection.js';
import { offThreadError, RemoteErrorCode } from './errors.js';
import { resolveModuleRef, resolveRoot, resolveUnderRoot } from './modules.js';
import { CALLER_ID, EARLY_RESULT_MAX, keys } from './shared.js';
import { encode, encodeOutcome, type JobData, PROGRESS_KEY, serializeError } from './wire.js';

/** Options of {@link serve}. `queue`, `root` and `pool` are required; see {@link defaultServeOptions}. */
export interface ServeOptions {
  /** The BullMQ queue to take tasks from (the callers' `RemotePool` queue). */
  queue: string;
  /** Only modules under this directory are ever loaded; jobs are named relative to it. */
  root: string | URL;
  /** The local offthread Pool every task runs on (its threads, timeouts and limits apply). */
  pool: Pool;
  /** Redis: ioredis options or a redis:// URL. Defaults to 127.0.0.1:6379. */
  connection?: RedisConnection;
  /** BullMQ key prefix; the same as the callers'. Defaults to 'bull'. */
  prefix?: string;
  /**
   * Jobs taken from Redis at once. A few more than the pool's threads keeps them busy between
   * jobs. Defaults to 2 × the pool's `maxThreads`.
   */
  concurrency?: number;
  /**
   * How long (ms) this worker's hold on a running job lasts without renewal (it renews every
   * half of it). If the process dies, its tasks fail with ERR_OFFTHREAD_WORKER_EXIT about this
   * long plus two stalled-check intervals later. Defaults to 3000.
   */
  lockDuration?: number;
  /** How often (ms) this worker also checks for dead workers' jobs. Defaults to 1000. */
  stalledInterval?: number;
  /** An id for this worker in stats. Defaults to `<hostname>-<pid>`. */
  id?: string;
}

/** The defaults of {@link ServeOptions}. */
export const defaultServeOptions = Object.freeze({
  connection: 'redis://127.0.0.1:6379',
  prefix: 'bull',
  lockDuration: 3000,
  stalledInterval: 1000,
});

/** A running worker; `close()` it on SIGTERM. */
export interface Server {
  /** This worker's id, as shown in `RemotePool.stats().remote.workers`. */
  readonly id: string;
  /** The BullMQ worker underneath. */
  readonly worker: Worker;
  /** Stop taking jobs, let running ones finish, disconnect. Does not close the pool. */
  close(): Promise<void>;
}

const knownOptions = new Set([
  'queue',
  'root',
  'pool',
  'connection',
  'prefix',
  'concurrency',
  'lockDuration',
  'stalledInterval',
  'id',
]);

function positiveInt(value: unknown, path: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${path} must be a positive integer, got ${String(value)}`);
  }
}

/**
 * Serve a queue's tasks on this machine: every job runs through `pool` (a local offthread Pool),
 * so timeouts stop work, error classes and codes survive, TypeScript task files load and
 * `currentTask().signal` fires when the caller aborts. Only modules under `root` are loaded.
 *
 * @returns once connected to Redis and taking jobs.
 * @throws {TypeError | RangeError} for a missing or invalid option.
 *
 * @example
 * await serve({ queue: 'reports', root: new URL('./dist/', import.meta.url), pool: new Pool() });
 */
export async function serve(options: ServeOptions): Promise<Server> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('serve(options) expects an object like { queue, root, pool, connection }');
  }
  for (const key of Object.keys(options)) {
    if (!knownOptions.has(key)) {
      throw new TypeError(
        `options.${key} is not a serve() option. Known options: ${[...knownOptions].join(', ')}`,
      );
    }
  }
  if (typeof options.queue !== 'string' || options.queue === '' || options.queue.includes(':')) {
    throw new TypeError(
      `options.queue must be a non-empty queue name without ':', got ${JSON.stringify(options.queue)}`,
    );
  }
  if (!isTaskPool(options.pool)) {
    throw new TypeError('options.pool must be an offthread Pool: serve({ ..., pool: new Pool() })');
  }
  const root = resolveRoot(options.root, 'options.root');
  const connection = redisOptions(options.connection, 'options.connection');
  const prefix = options.prefix ?? defaultServeOptions.prefix;
  const pool = options.pool;
  const maxThreads = (pool as { options?: { maxThreads?: number } }).options?.maxThreads ?? 1;
  const concurrency = options.concurrency ?? maxThreads * 2;
  positiveInt(concurrency, 'options.concurrency');
  const lockDuration = options.lockDuration ?? defaultServeOptions.lockDuration;
  positiveInt(lockDuration, 'options.lockDuration');
  const stalledInterval = options.stalledInterval ?? defaultServeOptions.stalledInterval;
  positiveInt(stalledInterval, 'options.stalledInterval');
  const id = options.id ?? `${hostname()}-${process.pid}`;
  const k = keys(prefix, options.queue);

  const succeeded = (value: unknown) => encodeOutcome({ ok: true, v: value });
  const failed = (error: unknown) => encodeOutcome({ ok: false, e: serializeError(error) });
  /**
   * The signals of running jobs, by job id: a cancel message aborts the job's. Controllers that
   * were not aborted are reused by later jobs (the local pool stops listening to a signal when
   * its task settles, before the job completes), which measured 0.03-0.09 ms less worker CPU per
   * job than a new AbortController per job. Bounded: `spare` by `concurrency`, `running` by the
   * jobs running at once.
   */
  const running = new Map<string, AbortController>();
  const spare: AbortController[] = [];
  const cancel = (jobId: string) => running.get(jobId)?.abort('aborted by the caller');

  // Not an async function: one promise per job (the pool's), and no extra turns of the
  // microtask queue between the thread's answer and BullMQ completing the job. It takes one
  // parameter so that BullMQ makes no AbortController of its own per job.
  const processor = (job: Job<JobData>) => {
    const jobId = job.id as string;
    const controller = spare.pop() ?? new AbortController();
    running.set(jobId, controller);
    const done = () => {
      running.delete(jobId);
      if (!controller.signal.aborted && spare.length < concurrency) spare.push(controller);
    };
    let pending: Promise<unknown>;
    try {
      pending = runJob(job, controller.signal);
    } catch (error) {
      done();
      return Promise.resolve(early(job, failed(error)));
    }
    return pending.then(
      (value) => {
        done();
        return early(job, succeeded(value));
      },
      (error) => {
        done();
        return early(job, failed(error));
      },
    );
  };

  /**
   * The outcome goes to the caller at once on its own pub/sub channel, while BullMQ completes the
   * job (a Lua script that also writes the event stream the caller reads): the caller hears one
   * hop sooner. The event stream still carries every result, so a lost message (the caller's
   * subscription reconnecting) costs time, never a result. Not for calls with progress reports,
   * which travel on the event stream and must arrive before the result.
   */
  const early = (job: Job<JobData>, outcome: string): string => {
    const caller = job.data?.r;
    if (
      typeof caller === 'string' &&
      job.data.g !== 1 &&
      outcome.length <= EARLY_RESULT_MAX &&
      CALLER_ID.test(caller)
    ) {
      control.publish(k.result(caller), `${job.id} ${outcome}`).catch(() => {});
    }
    return outcome;
  };

  const proxies = new Map<string, unknown>();
  const proxyFor = (filename: string) => {
    let proxy = proxies.get(filename);
    if (!proxy) {
      if (proxies.size >= 1024) proxies.clear(); // bounded: one per module actually used
      proxy = pool.proxy({ filename });
      proxies.set(filename, proxy);
    }
    return proxy;
  };

  /** Progress reports go into BullMQ's progress (and the queue's event stream), encoded. */
  const progressTo = (job: Job<JobData>) => (value: unknown) => {
    let encoded: string;
    try {
      encoded = encode(value).toString('base64');
    } catch (error) {
      process.emitWarning(
        `offthread-bullmq: a progress report of job ${job.id} cannot be encoded and was dropped: ${(error as Error).message}`,
      );
      return;
    }
    job.updateProgress({ [PROGRESS_KEY]: encoded }).catch(() => {});
  };

  const runJob = (job: Job<JobData>, signal: AbortSignal | undefined): Promise<unknown> => {
    const data = job.data;
    if (data?.v !== 1) {
      throw offThreadError(
        RemoteErrorCode.MODULE_MISMATCH,
        'The job was made by another version of @offthread/bullmq; use the same version on callers and workers.',
      );
    }
    // The deadline is on the caller's clock: with clock skew between machines it is approximate;
    // the caller also removes the job at its own deadline.
    if (typeof data.d === 'number' && Date.now() > data.d) {
      throw offThreadError(
        RemoteErrorCode.QUEUE_TIMEOUT,
        'The task waited in the queue past its queueTimeout before a worker took it; it was not run.',
      );
    }
    const target = resolveModuleRef(data.m, root);
    if (data.p === 1) {
      const names = Array.isArray(data.n) ? data.n.map(String) : ['default'];
      return pool.preload({ filename: target.filename, names }).then(() => undefined);
    }
    if (typeof data.n !== 'string') throw new TypeError('The job names no export to call.');
    let arg = data.a === undefined ? undefined : deserialize(Buffer.from(data.a, 'base64'));
    if (target.adapter) {
      const files = data.f ?? {};
      arg = target.adapter.mapPaths(arg, data.n, (path) =>
        resolveUnderRoot(path, root, Object.hasOwn(files, path) ? files[path] : undefined),
      );
    }
    const runOptions: RunOptions = { timeout: data.t, signal };
    if (data.g === 1) runOptions.onProgress = progressTo(job);
    if (data.s === 1 && Array.isArray(arg)) {
      // A proxy() call: the local pool's proxy spreads the arguments, as it does for local callers.
      const proxy = proxyFor(target.filename) as Record<
        string,
        { withOptions(o: object): (...args: unknown[]) => Promise<unknown> }
      >;
      const fn = proxy[data.n];
      // The proxy answers every name but `then` and `toJSON`, so it never looks like a promise.
      if (!fn)
        throw new TypeError(
          `The job calls ${JSON.stringify(data.n)} through proxy(), which cannot call an export of that name.`,
        );
      return fn.withOptions(runOptions)(...arg);
    }
    runOptions.filename = target.filename;
    runOptions.name = data.n;
    return pool.run(arg, runOptions);
  };

  const control = new Redis({ ...connection, enableOfflineQueue: false });
  control.on('error', () => {});
  const worker = new Worker<JobData>(options.queue, processor, {
    connection: connection as ConnectionOptions,
    prefix,
    concurrency,
    lockDuration,
    stalledInterval,
    // At-most-once: a job whose worker died is failed (ERR_OFFTHREAD_WORKER_EXIT on the caller),
    // never silently run again. Retries are the caller's opt-in.
    maxStalledCount: 0,
    autorun: false,
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  });
  worker.on('error', () => {}); // connection errors: BullMQ reconnects by itself

  const subscriber = new Redis({ ...connection });
  subscriber.on('error', () => {});
  subscriber.on('message', (_channel: string, jobId: string) => {
    cancel(jobId);
  });
  await subscriber.subscribe(k.cancel);

  const report = () => {
    const s = pool.stats();
    const body = JSON.stringify({
      id,
      host: hostname(),
      pid: process.pid,
      threads: s.threads,
      maxThreads,
      running: s.running,
      queued: s.queued,
      completed: s.completed,
      failed: s.failed,
      at: Date.now(),
    });
    control.hset(k.workers, id, body).catch(() => {});
  };
  const heartbeat = setInterval(report, 1000);
  heartbeat.unref();
  report();

  worker.run().catch(() => {});
  await worker.waitUntilReady();

  let closing: Promise<void> | undefined;
  return {
    id,
    worker,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        await worker.close();
        await control.hdel(k.workers, id).catch(() => {});
        control.disconnect();
        subscriber.disconnect();
      })();
      return closing;
    },
  };
}
