import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  isOffThreadError,
  OffThreadErrorCode,
  type PoolProxy,
  type PoolStats,
  type RunOptions,
  type TaskPool,
} from '@offthread/core';
import { type ConnectionOptions, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { adapterEntry } from './adapters.js';
import { type RedisConnection, redisOptions } from './connection.js';
import { offThreadError, RemoteErrorCode } from './errors.js';
import { moduleRef, resolveRoot, toPath } from './modules.js';
import { keys, toBullPriority } from './shared.js';
import { SampleWindow } from './stats.js';
import {
  decode,
  decodeOutcome,
  deserializeError,
  encode,
  type JobData,
  type ModuleRef,
  PROGRESS_KEY,
} from './wire.js';

/** How long to wait before a retry: fixed ms, or `{ type: 'exponential', delay }` (delay × 2^(n-1)). */
export type Backoff = number | { type: 'fixed' | 'exponential'; delay: number };

/** Options of one remote call: those of a local `pool.run()` plus retries and a queue bound. */
export interface RemoteRunOptions extends RunOptions {
  /** Most ms the task may wait in the queue before a worker starts it. Defaults to the pool's `queueTimeout`. */
  queueTimeout?: number;
  /** Tries in all, for idempotent tasks. Defaults to the pool's `attempts` (1: no retry). */
  attempts?: number;
  /** Wait between tries. Defaults to the pool's `backoff`. */
  backoff?: Backoff;
}

/** Options of {@link RemotePool}. `queue` and `root` are required; see {@link defaultRemotePoolOptions}. */
export interface RemotePoolOptions {
  /** The BullMQ queue name; workers started with `serve()` on the same name run the tasks. */
  queue: string;
  /** The directory task modules live in; they are named to workers relative to it. */
  root: string | URL;
  /** Redis: ioredis options or a redis:// URL. Defaults to 127.0.0.1:6379. */
  connection?: RedisConnection;
  /** BullMQ key prefix. Defaults to 'bull'. */
  prefix?: string;
  /** The task module used when `run()` is given no `filename`. */
  filename?: string | URL;
  /** A name shown in stats. Defaults to the queue name. */
  name?: string;
  /** Largest encoded argument in bytes; larger ones reject with ERR_OFFTHREAD_PAYLOAD_TOO_LARGE. Defaults to 1 MiB. */
  maxPayloadSize?: number;
  /** Default running-time `timeout` (ms) of every task. Defaults to none. */
  taskTimeout?: number;
  /** Default queue bound (ms) of every task. Defaults to `Infinity`. */
  queueTimeout?: number;
  /** Default tries per task (opt-in retries for idempotent tasks). Defaults to 1. */
  attempts?: number;
  /** Default wait between tries. Defaults to 1000 ms. */
  backoff?: Backoff;
  /**
   * How often (ms) this pool checks for jobs whose worker died (their lock expired). A dead
   * worker's tasks fail within the workers' `lockDuration` plus about two of these. Defaults to 1000.
   */
  stalledInterval?: number;
  /**
   * Whether calls may carry a `priority`. `true` (the default): every job goes through BullMQ's
   * priority order, so `priority` means what it means locally (higher runs first). `false`: jobs
   * go through BullMQ's plain FIFO wait list, which measured about 0.02-0.1 ms less per call one
   * at a time, and a call with a non-zero `priority` is refused with a TypeError. Use the same
   * setting on every caller of a queue: BullMQ runs jobs without a priority before all
   * prioritized ones.
   */
  priorities?: boolean;
}

/** The defaults of {@link RemotePoolOptions}. */
export const defaultRemotePoolOptions = Object.freeze({
  connection: 'redis://127.0.0.1:6379',
  prefix: 'bull',
  maxPayloadSize: 1024 * 1024,
  taskTimeout: undefined as number | undefined,
  queueTimeout: Number.POSITIVE_INFINITY,
  attempts: 1,
  backoff: 1000 as Backoff,
  stalledInterval: 1000,
  priorities: true,
});

/** A worker process as it last reported itself (every second). */
export interface RemoteWorkerStats {
  id: string;
  host: string;
  pid: number;
  /** Threads alive in its local pool, and the most it starts. */
  threads: number;
  maxThreads: number;
  running: number;
  queued: number;
  completed: number;
  failed: number;
  /** Epoch ms of the report. */
  at: number;
}

/** What {@link RemotePool.stats} returns: the local pool's shape plus the queue as Redis sees it. */
export interface RemotePoolStats extends PoolStats {
  /** The queue and its workers, refreshed every second while the pool is open. */
  remote: {
    /** Jobs waiting for a worker (all callers of the queue). */
    waiting: number;
    /** Jobs being run (all callers of the queue). */
    active: number;
    workers: RemoteWorkerStats[];
    /** Whether this pool is connected to Redis right now. */
    connected: boolean;
    /** Epoch ms of the last refresh; 0 before the first. */
    updatedAt: number;
  };
}

interface Call {
  arg: Buffer | undefined;
  data: JobData;
  jobId: string;
  name: string;
  priority: number;
  attempt: number;
  attempts: number;
  backoff: Backoff;
  queueTimeout: number;
  started: boolean;
  settled: boolean;
  submittedAt: number;
  startedAt: number;
  /** When this pool last heard of the job (enqueued, started). */
  seenAt: number;
  /** Sweeps in a row that found the job gone from Redis without an event for it. */
  missing: number;
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
  onProgress?: (value: any) => void;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

const NOT_RETRIED = new Set<string>([
  OffThreadErrorCode.ABORTED,
  OffThreadErrorCode.POOL_CLOSED,
  OffThreadErrorCode.TASK_NOT_FOUND,
  OffThreadErrorCode.UNCLONEABLE,
  OffThreadErrorCode.WORKER_INIT,
  RemoteErrorCode.QUEUE_TIMEOUT,
  RemoteErrorCode.MODULE_MISMATCH,
  RemoteErrorCode.OUTSIDE_ROOT,
  RemoteErrorCode.PAYLOAD_TOO_LARGE,
  RemoteErrorCode.REDIS_UNAVAILABLE,
]);

const knownOptions = new Set([
  'queue',
  'root',
  'connection',
  'prefix',
  'filename',
  'name',
  'maxPayloadSize',
  'taskTimeout',
  'queueTimeout',
  'attempts',
  'backoff',
  'stalledInterval',
  'priorities',
]);

function checkMs(value: unknown, path: string, allowInfinity: boolean): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${path} must be a number of milliseconds, got ${String(value)}`);
  }
  if (
    value < 0 ||
    (!allowInfinity && !Number.isFinite(value)) ||
    (Number.isFinite(value) && value > 2 ** 31 - 1)
  ) {
    throw new RangeError(
      `${path} must be between 0 and 2147483647 ms${allowInfinity ? ' (or Infinity)' : ''}, got ${value}`,
    );
  }
}

/**
 * A time limit (timeout, queueTimeout): as the core checks it, so a remote pool refuses what a
 * local one refuses, before anything is enqueued. 0 is neither "no limit" (Infinity) nor a usable
 * limit.
 */
function checkTimeLimit(value: unknown, path: string): void {
  checkMs(value, path, true);
  if (value === 0)
    throw new RangeError(`${path} must be > 0 ms, got 0. Use Infinity for no limit.`);
}

function checkAttempts(value: unknown, path: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1000) {
    throw new RangeError(`${path} must be an integer from 1 to 1000, got ${String(value)}`);
  }
}

function checkBackoff(value: unknown, path: string): void {
  if (typeof value === 'number') {
    checkMs(value, path, false);
    return;
  }
  const b = value as { type?: unknown; delay?: unknown } | null;
  if (!b || typeof b !== 'object' || (b.type !== 'fixed' && b.type !== 'exponential')) {
    throw new TypeError(`${path} must be ms or { type: 'fixed' | 'exponential', delay: ms }`);
  }
  checkMs(b.delay, `${path}.delay`, false);
}

function backoffDelay(backoff: Backoff, attempt: number): number {
  if (typeof backoff === 'number') return backoff;
  return backoff.type === 'fixed'
    ? backoff.delay
    : Math.min(backoff.delay * 2 ** (attempt - 1), 2 ** 31 - 1);
}

/** Most jobs per MULTI when a burst of calls is added to Redis together. */
const MAX_BATCH = 500;

const kTransfer = Symbol.for('offthread.transfer');

/** `transfer(value)` moves memory between threads; across machines it is a copy of `value`. */
function unwrapTransfer(arg: unknown): unknown {
  if (
    arg !== null &&
    typeof arg === 'object' &&
    (arg as Record<symbol, unknown>)[kTransfer] === true
  ) {
    return (arg as { value: unknown }).value;
  }
  return arg;
}

/**
 * A pool whose threads are on other machines: tasks go through a BullMQ queue on Redis to
 * worker processes started with {@link serve}, each running them on its own local `Pool`. It
 * implements the core's `TaskPool`, so it can replace a local `Pool` wherever one is accepted
 * (`offThread(handler, { pool })` in Express, `OffThreadModule.forRoot({ pool })` in Nest).
 *
 * @throws {TypeError | RangeError} for a missing or invalid option (the message names it).
 *
 * @example
 * const pool = new RemotePool({ queue: 'reports', root: new URL('./dist/', import.meta.url) });
 * const pdf = await pool.run(input, { filename: new URL('./dist/render.js', import.meta.url), timeout: 5000 });
 */
export class RemotePool extends EventEmitter implements TaskPool {
  /** The queue's name. */
  readonly queueName: string;
  /** The resolved root directory. */
  readonly root: string;
  private readonly filename: string | undefined;
  private readonly o: {
    prefix: string;
    name: string;
    maxPayloadSize: number;
    taskTimeout: number | undefined;
    queueTimeout: number;
    attempts: number;
    backoff: Backoff;
    stalledInterval: number;
    priorities: boolean;
  };
  private readonly redis: ReturnType<typeof redisOptions>;
  private readonly id = randomUUID().slice(0, 8);
  private seq = 0;
  private readonly calls = new Map<string, Call>();
  /** Calls enqueued in this tick, added to Redis together at its end (see flushAdds). */
  private unsent: Call[] = [];
  private queue?: Queue;
  private events?: QueueEvents;
  private checker?: Worker;
  private control?: Redis;
  /** Subscribed to this pool's result channel: workers publish outcomes there early. */
  private results?: Redis;
  private ready?: Promise<void>;
  private connected = false;
  /** connect() has completed once: from then on a lost connection rejects calls at once. */
  private started = false;
  private closing = false;
  private closed = false;
  private completed = 0;
  private failed = 0;
  private readonly runTimes = new SampleWindow();
  private readonly waitTimes = new SampleWindow();
  private refreshTimer?: NodeJS.Timeout;
  private ticks = 0;
  private remote: RemotePoolStats['remote'] = {
    waiting: 0,
    active: 0,
    workers: [],
    connected: false,
    updatedAt: 0,
  };

  constructor(options: RemotePoolOptions) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new TypeError(
        'new RemotePool(options) expects an object like { queue, root, connection }',
      );
    }
    for (const key of Object.keys(options)) {
      if (!knownOptions.has(key)) {
        throw new TypeError(
          `options.${key} is not a RemotePool option. Known options: ${[...knownOptions].join(', ')}`,
        );
      }
    }
    if (typeof options.queue !== 'string' || options.queue === '' || options.queue.includes(':')) {
      throw new TypeError(
        `options.queue must be a non-empty queue name without ':', got ${JSON.stringify(options.queue)}`,
      );
    }
    this.queueName = options.queue;
    this.root = resolveRoot(options.root, 'options.root');
    this.filename =
      options.filename === undefined ? undefined : toPath(options.filename, 'options.filename');
    this.redis = redisOptions(options.connection, 'options.connection');
    const d = defaultRemotePoolOptions;
    if (
      options.prefix !== undefined &&
      (typeof options.prefix !== 'string' || options.prefix === '')
    ) {
      throw new TypeError('options.prefix must be a non-empty string');
    }
    if (options.maxPayloadSize !== undefined) {
      if (!Number.isInteger(options.maxPayloadSize) || options.maxPayloadSize < 1) {
        throw new RangeError(
          `options.maxPayloadSize must be a positive integer number of bytes, got ${String(options.maxPayloadSize)}`,
        );
      }
    }
    if (options.taskTimeout !== undefined)
      checkTimeLimit(options.taskTimeout, 'options.taskTimeout');
    if (options.queueTimeout !== undefined)
      checkTimeLimit(options.queueTimeout, 'options.queueTimeout');
    if (options.attempts !== undefined) checkAttempts(options.attempts, 'options.attempts');
    if (options.backoff !== undefined) checkBackoff(options.backoff, 'options.backoff');
    if (options.stalledInterval !== undefined) {
      checkMs(options.stalledInterval, 'options.stalledInterval', false);
      if (options.stalledInterval < 1)
        throw new RangeError('options.stalledInterval must be at least 1 ms');
    }
    if (options.name !== undefined && typeof options.name !== 'string') {
      throw new TypeError('options.name must be a string');
    }
    if (options.priorities !== undefined && typeof options.priorities !== 'boolean') {
      throw new TypeError('options.priorities must be true or false');
    }
    this.o = {
      prefix: options.prefix ?? d.prefix,
      name: options.name ?? options.queue,
      maxPayloadSize: options.maxPayloadSize ?? d.maxPayloadSize,
      taskTimeout:
        options.taskTimeout === Number.POSITIVE_INFINITY ? undefined : options.taskTimeout,
      queueTimeout: options.queueTimeout ?? d.queueTimeout,
      attempts: options.attempts ?? d.attempts,
      backoff: options.backoff ?? d.backoff,
      stalledInterval: options.stalledInterval ?? d.stalledInterval,
      priorities: options.priorities ?? d.priorities,
    };
  }

  /**
   * Connect to Redis and start listening for results. `run()` does it on first use; await it at
   * start-up to fail fast when Redis is unreachable (rejects with ERR_OFFTHREAD_REDIS_UNAVAILABLE).
   */
  connect(): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError());
    this.ready ??= this.start();
    return this.ready;
  }

  private async start(): Promise<void> {
    const connection = this.redis;
    const k = keys(this.o.prefix, this.queueName);
    const control = new Redis({ ...connection, enableOfflineQueue: false, lazyConnect: true });
    this.control = control;
    control.on('error', () => {}); // reported through 'close' and rejected calls
    control.on('ready', () => {
      this.connected = true;
      this.emit('connect');
    });
    control.on('close', () => {
      if (!this.connected) return;
      this.connected = false;
      this.emit('disconnect');
      // Jobs in flight may be lost with Redis (or their results never reach us): fail them now
      // rather than leave callers waiting on a result that may never come.
      this.failAll(() =>
        offThreadError(
          RemoteErrorCode.REDIS_UNAVAILABLE,
          `The connection to Redis (${this.where()}) was lost while the task was in flight; it may or may not have run.`,
        ),
      );
    });
    // Results come twice: early on this pool's own pub/sub channel (one hop after the task
    // settles) and in BullMQ's event stream (after the job's completion). The first settles the
    // call; the stream alone is enough, so a lost message only costs time.
    const results = new Redis({ ...connection, lazyConnect: true });
    this.results = results;
    results.on('error', () => {});
    results.on('message', (_channel: string, message: string) => this.onEarlyResult(message));
    try {
      await Promise.all([control.connect(), results.connect()]);
      await results.subscribe(k.result(this.id));
    } catch (error) {
      this.ready = undefined;
      control.disconnect();
      results.disconnect();
      throw this.unavailable(error);
    }
    // Results are read from the queue's event stream starting at its current end, so nothing
    // that happens after our first job is added can be missed.
    const last = (await control.xrevrange(k.events, '+', '-', 'COUNT', 1)) as [string, string[]][];
    const lastEventId = last[0]?.[0] ?? '0-0';
    this.queue = new Queue(this.queueName, {
      // No ioredis auto-pipelining: it defers every add to a setImmediate and builds a pipeline
      // object carrying all of BullMQ's scripts, which measured ~0.3 ms more per call on a lone
      // call and no gain on bursts of 2000 (commands are written as they come either way).
      connection: { ...connection, enableOfflineQueue: false } as ConnectionOptions,
      prefix: this.o.prefix,
    });
    this.queue.on('error', () => {});
    this.events = new QueueEvents(this.queueName, {
      connection: connection as ConnectionOptions,
      prefix: this.o.prefix,
      lastEventId,
    });
    this.events.on('error', () => {});
    this.events.on('active', ({ jobId }) => this.onActive(jobId));
    this.events.on('completed', ({ jobId, returnvalue }) => this.onCompleted(jobId, returnvalue));
    this.events.on('progress', ({ jobId, data }) => this.onProgress(jobId, data));
    this.events.on('failed', ({ jobId, failedReason }) => this.onFailed(jobId, failedReason));
    this.events.on('stalled', ({ jobId }) =>
      this.onFailed(jobId, 'job stalled more than allowable limit'),
    );
    // Jobs whose worker died keep their expired lock; a stalled check finds them. Workers run one
    // too, but the caller runs its own so a lone dead worker's tasks still fail in bounded time.
    // maxStalledCount 0: a stalled job is failed, never silently run again (at-most-once).
    this.checker = new Worker(this.queueName, null, {
      connection: connection as ConnectionOptions,
      prefix: this.o.prefix,
      autorun: false,
      maxStalledCount: 0,
      stalledInterval: this.o.stalledInterval,
    });
    this.checker.on('error', () => {});
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
    await this.checker.startStalledCheckTimer();
    this.refreshTimer = setInterval(() => this.refresh(), 1000);
    this.refreshTimer.unref();
    this.started = true;
    this.refresh();
  }

  private where(): string {
    return `${this.redis.host ?? '127.0.0.1'}:${this.redis.port ?? 6379}`;
  }

  private unavailable(cause: unknown) {
    return offThreadError(
      RemoteErrorCode.REDIS_UNAVAILABLE,
      `Redis (${this.where()}) is unavailable: ${(cause as Error)?.message ?? String(cause)}. The task was not enqueued; retry when Redis is back.`,
      { cause },
    );
  }

  private closedError() {
    return offThreadError(
      OffThreadErrorCode.POOL_CLOSED,
      `The remote pool '${this.o.name}' is closed; create a new one to run more tasks.`,
    );
  }

  /**
   * Run an export of a task module on a worker machine. Same call as `Pool.run()`; see the
   * package README for what differs (encoding, retries, queue bound).
   *
   * Rejects with the task's own error (class and properties kept for registered classes), or an
   * OffThreadError: ERR_OFFTHREAD_TIMEOUT, _ABORTED, _WORKER_EXIT, _QUEUE_TIMEOUT, _UNCLONEABLE,
   * _TASK_NOT_FOUND, _WORKER_INIT, _POOL_CLOSED, _REDIS_UNAVAILABLE, _PAYLOAD_TOO_LARGE,
   * _MODULE_MISMATCH, _OUTSIDE_ROOT.
   */
  run<R = any>(arg?: unknown, options?: RemoteRunOptions): Promise<R> {
    try {
      return this.submit(unwrapTransfer(arg), options ?? {}, false) as Promise<R>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private submit(
    arg: unknown,
    options: RemoteRunOptions,
    preload: boolean,
    names?: string[],
    spread = false,
  ) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('options must be an object like { name, timeout, signal }');
    }
    if (this.closing) throw this.closedError();
    const o = { ...options };
    const name = o.name ?? 'default';
    if (typeof name !== 'string') throw new TypeError('options.name must be a string');
    const timeout = o.timeout ?? this.o.taskTimeout;
    if (timeout !== undefined) checkTimeLimit(timeout, 'options.timeout');
    const queueTimeout = o.queueTimeout ?? this.o.queueTimeout;
    checkTimeLimit(queueTimeout, 'options.queueTimeout');
    const attempts = o.attempts ?? this.o.attempts;
    checkAttempts(attempts, 'options.attempts');
    const backoff = o.backoff ?? this.o.backoff;
    checkBackoff(backoff, 'options.backoff');
    const priority = o.priority ?? 0;
    if (typeof priority !== 'number' || Number.isNaN(priority)) {
      throw new TypeError('options.priority must be a number');
    }
    if (priority !== 0 && !this.o.priorities) {
      throw new TypeError(
        `options.priority is ${priority}, but this RemotePool was created with { priorities: false } (FIFO). Create it with priorities: true (the default) to order calls by priority.`,
      );
    }
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
      throw new TypeError('options.signal must be an AbortSignal');
    }
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
      throw new TypeError('options.onProgress must be a function (value) => void');
    }
    const file = o.filename === undefined ? this.filename : toPath(o.filename, 'options.filename');
    if (file === undefined) {
      throw offThreadError(
        OffThreadErrorCode.WORKER_INIT,
        'No task module: pass { filename } to run() or to new RemotePool().',
      );
    }
    const ref = moduleRef(file, this.root);
    let value = arg;
    let files: Record<string, string> | undefined;
    if (ref.k === 'p') {
      const adapter = adapterEntry(ref.n);
      // moduleRef() names a package only when it is an adapter's, so this cannot happen.
      if (!adapter) throw new Error(`offthread internal error: no adapter entry for ${ref.n}`);
      const collected = Object.create(null) as Record<string, string>;
      files = collected;
      value = adapter.mapPaths(arg, name, (path) => this.relativeFile(path, collected), this.id);
    }
    let payload: Buffer | undefined;
    if (value !== undefined) {
      try {
        payload = encode(value);
      } catch (error) {
        throw offThreadError(
          OffThreadErrorCode.UNCLONEABLE,
          `The argument cannot be sent to a worker machine: ${(error as Error).message}. Remote tasks take structured-clone data (no functions, MessagePorts or class instances' methods).`,
          { cause: error, task: name, filename: file },
        );
      }
      if (payload.length > this.o.maxPayloadSize) {
        throw offThreadError(
          RemoteErrorCode.PAYLOAD_TOO_LARGE,
          `The encoded argument is ${payload.length} bytes, more than maxPayloadSize (${this.o.maxPayloadSize}). Send a reference (a key, a URL) instead of the data, or raise maxPayloadSize.`,
          { task: name, filename: file },
        );
      }
    }
    if (o.signal?.aborted) {
      throw offThreadError(
        OffThreadErrorCode.ABORTED,
        'The task was aborted before it was enqueued.',
        {
          cause: o.signal.reason,
          task: name,
        },
      );
    }
    // Once started, a lost connection rejects at once (nothing is buffered); while the first
    // connection is being made, calls wait for it.
    if (this.started && !this.connected) {
      throw this.unavailable(new Error('not connected'));
    }
    const data: JobData = { v: 1, m: ref as ModuleRef, n: preload ? (names ?? ['default']) : name };
    if (payload) data.a = payload.toString('base64');
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) data.t = timeout;
    if (files) data.f = files;
    if (preload) data.p = 1;
    if (spread) data.s = 1;
    if (o.onProgress) data.g = 1;
    if (this.results?.status === 'ready') data.r = this.id;
    return new Promise<unknown>((resolve, reject) => {
      const call: Call = {
        arg: payload,
        data,
        jobId: '',
        name,
        priority,
        attempt: 1,
        attempts,
        backoff,
        queueTimeout,
        started: false,
        settled: false,
        submittedAt: performance.now(),
        startedAt: 0,
        seenAt: performance.now(),
        missing: 0,
        signal: o.signal,
        onProgress: o.onProgress,
        resolve,
        reject,
      };
      if (o.signal) {
        call.onAbort = () => this.abort(call);
        o.signal.addEventListener('abort', call.onAbort, { once: true });
      }
      this.enqueue(call);
    });
  }

  /** An absolute module path inside an adapter's argument, as a root-relative one. */
  private relativeFile(path: string, files: Record<string, string>): string {
    const abs = toPath(path, 'a module path in the adapter argument');
    const ref = moduleRef(abs, this.root);
    if (ref.k !== 'f') {
      throw offThreadError(
        RemoteErrorCode.OUTSIDE_ROOT,
        `${abs} cannot be named to a worker machine: put it under the remote pool's root (${this.root}).`,
      );
    }
    files[ref.p] = ref.h;
    return ref.p;
  }

  private enqueue(call: Call): void {
    this.calls.delete(call.jobId);
    call.seenAt = performance.now();
    call.missing = 0;
    call.jobId = `${this.id}-${++this.seq}`;
    call.started = false;
    if (Number.isFinite(call.queueTimeout)) {
      call.data.d = Date.now() + call.queueTimeout;
      call.timer = setTimeout(() => this.queueTimedOut(call), call.queueTimeout);
    }
    this.calls.set(call.jobId, call);
    this.unsent.push(call);
    if (this.unsent.length === 1) process.nextTick(this.flushAdds);
  }

  /**
   * Calls made in the same tick reach Redis together: one MULTI of adds (BullMQ's addBulk) for a
   * burst, a plain add for a lone call. One write instead of one per call, without delaying a
   * lone call to a later turn of the event loop (as ioredis auto-pipelining does).
   */
  private readonly flushAdds = (): void => {
    const batch = this.unsent;
    this.unsent = [];
    this.connect()
      .then((): Promise<unknown> | undefined => {
        const live = batch.filter((call) => !call.settled);
        if (live.length === 0) return;
        if (!this.connected) throw this.unavailable(new Error('not connected'));
        const queue = this.queue as Queue;
        const job = (call: Call) => ({
          name: call.name,
          data: call.data,
          opts: {
            jobId: call.jobId,
            // No BullMQ priority at all without priorities: its plain wait list is cheaper.
            priority: this.o.priorities ? toBullPriority(call.priority) : undefined,
            removeOnComplete: true,
            removeOnFail: true,
          },
        });
        if (live.length === 1) {
          const { name, data, opts } = job(live[0] as Call);
          return queue.add(name, data, opts);
        }
        const adds: Promise<unknown>[] = [];
        // Bounded MULTIs: Redis runs one at a time, so a huge one would hold up other clients.
        for (let i = 0; i < live.length; i += MAX_BATCH) {
          adds.push(queue.addBulk(live.slice(i, i + MAX_BATCH).map(job)));
        }
        return Promise.all(adds);
      })
      .catch((error) => {
        const failure = isOffThreadError(error) ? error : this.unavailable(error);
        for (const call of batch) this.settle(call, failure, false);
      });
  };

  private settle(call: Call, error: unknown, ok: boolean, value?: unknown): void {
    if (call.settled) return;
    this.calls.delete(call.jobId);
    clearTimeout(call.timer);
    call.timer = undefined;
    if (
      !ok &&
      call.attempt < call.attempts &&
      !this.closing &&
      !(isOffThreadError(error) && NOT_RETRIED.has((error as { code: string }).code))
    ) {
      // Opt-in retry: a new job, so a late result of the old one cannot be mistaken for it.
      const delay = backoffDelay(call.backoff, call.attempt);
      call.attempt++;
      // Kept in `calls` under a placeholder id meanwhile, so abort, close and destroy see it.
      call.jobId = `${this.id}-wait-${++this.seq}`;
      call.started = false;
      this.calls.set(call.jobId, call);
      call.timer = setTimeout(() => {
        if (!call.settled) this.enqueue(call);
      }, delay);
      return;
    }
    call.settled = true;
    if (call.signal && call.onAbort) call.signal.removeEventListener('abort', call.onAbort);
    if (ok) {
      this.completed++;
      call.resolve(value);
    } else {
      this.failed++;
      call.reject(error);
    }
    if (this.closing && this.calls.size === 0) this.emit('drain');
  }

  private onActive(jobId: string): void {
    const call = this.calls.get(jobId);
    if (!call || call.started) return;
    call.started = true;
    call.startedAt = performance.now();
    call.seenAt = call.startedAt;
    this.waitTimes.record(call.startedAt - call.submittedAt);
    clearTimeout(call.timer);
  }

  private onCompleted(jobId: string, returnvalue: unknown): void {
    const call = this.calls.get(jobId);
    if (!call) return;
    if (call.started) this.runTimes.record(performance.now() - call.startedAt);
    let outcome: ReturnType<typeof decodeOutcome>;
    try {
      outcome = decodeOutcome(String(returnvalue));
    } catch (error) {
      this.settle(
        call,
        offThreadError(
          OffThreadErrorCode.WORKER_EXIT,
          'The worker returned a result this pool cannot read. Is every worker of the queue an @offthread/bullmq serve() of the same version?',
          { cause: error, task: call.name },
        ),
        false,
      );
      return;
    }
    if (outcome.ok) this.settle(call, undefined, true, outcome.v);
    else this.settle(call, deserializeError(outcome.e), false);
  }

  /** `<jobId> <outcome>` from a worker, on this pool's result channel. */
  private onEarlyResult(message: string): void {
    const space = message.indexOf(' ');
    if (space > 0) this.onCompleted(message.slice(0, space), message.slice(space + 1));
  }

  /** A progress report of a task (only sent for calls with `onProgress`). */
  private onProgress(jobId: string, data: unknown): void {
    const call = this.calls.get(jobId);
    if (!call?.onProgress || call.settled) return;
    const encoded = (data as Record<string, unknown> | null)?.[PROGRESS_KEY];
    if (typeof encoded !== 'string') return;
    let value: unknown;
    try {
      value = decode(Buffer.from(encoded, 'base64'));
    } catch {
      return;
    }
    try {
      call.onProgress(value);
    } catch (error) {
      // As for a local pool: the caller's callback must not break the pool's bookkeeping.
      process.emitWarning(
        `offthread-bullmq: an onProgress callback threw (task '${call.name}'): ${(error as Error)?.stack ?? error}`,
      );
    }
  }

  private onFailed(jobId: string, reason: string): void {
    const call = this.calls.get(jobId);
    if (!call) return;
    const stalled = /stalled/i.test(reason);
    this.settle(
      call,
      offThreadError(
        OffThreadErrorCode.WORKER_EXIT,
        stalled
          ? `The worker process running the task stopped responding (it exited or lost Redis); the task was not run again.`
          : `The job failed in the queue: ${reason}`,
        { task: call.name },
      ),
      false,
    );
  }

  private queueTimedOut(call: Call): void {
    if (call.settled || call.started) return;
    const jobId = call.jobId;
    this.queue
      ?.remove(jobId)
      .then((removed) => {
        // 0: a worker took it meanwhile; it is running and its result will come.
        if (removed !== 1) return;
        this.settle(
          call,
          offThreadError(
            RemoteErrorCode.QUEUE_TIMEOUT,
            `The task waited ${call.queueTimeout} ms in the queue '${this.queueName}' without a worker starting it; it was removed unrun. Add workers or raise queueTimeout.`,
            { task: call.name },
          ),
          false,
        );
      })
      .catch(() => {});
  }

  private abort(call: Call): void {
    if (call.settled) return;
    const jobId = call.jobId;
    call.attempts = call.attempt; // no retry after an abort
    this.settle(
      call,
      offThreadError(OffThreadErrorCode.ABORTED, 'The task was aborted.', {
        cause: call.signal?.reason,
        task: call.name,
      }),
      false,
    );
    // Waiting: remove the job. Running (remove returns 0): ask the worker to fire its signal.
    this.queue
      ?.remove(jobId)
      .then((removed) => {
        if (removed !== 1)
          return this.control?.publish(keys(this.o.prefix, this.queueName).cancel, jobId);
      })
      .catch(() => {});
  }

  private failAll(error: () => unknown): void {
    for (const call of [...this.calls.values()]) {
      call.attempts = call.attempt;
      this.settle(call, error(), false);
    }
  }

  /**
   * Results arrive on the queue's event stream, which Redis trims (BullMQ keeps about 10 000
   * events). A caller that fell that far behind would miss a result and wait forever: every few
   * seconds, calls not heard of for a while are looked up, and one whose job is gone from Redis
   * twice in a row fails with ERR_OFFTHREAD_RESULT_LOST (it ran, its result was lost).
   */
  private sweep(): void {
    const now = performance.now();
    const stale: Call[] = [];
    for (const call of this.calls.values()) {
      if (now - call.seenAt > 10_000 && !call.jobId.includes('-wait-')) stale.push(call);
      if (stale.length >= 200) break;
    }
    if (stale.length === 0 || !this.queue) return;
    const queue = this.queue;
    Promise.all(
      stale.map((call) => queue.getJobState(call.jobId).then((state) => [call, state] as const)),
    )
      .then((states) => {
        for (const [call, state] of states) {
          if (call.settled) continue;
          if (state !== 'unknown') {
            call.missing = 0;
            continue;
          }
          if (++call.missing < 2) continue;
          call.attempts = call.attempt;
          this.settle(
            call,
            offThreadError(
              // The core's code (absent from its first release, hence the literal).
              'ERR_OFFTHREAD_RESULT_LOST' as OffThreadErrorCode,
              `The job finished but its result was not received: the pool fell behind the queue's event stream. Raise the stream's length or run fewer calls per pool.`,
              { task: call.name },
            ),
            false,
          );
        }
      })
      .catch(() => {});
  }

  /** Pull queue counts and worker reports from Redis for stats(). */
  private refresh(): void {
    if (!this.connected || !this.queue || !this.control) return;
    if (++this.ticks % 5 === 0) this.sweep();
    const k = keys(this.o.prefix, this.queueName);
    Promise.all([
      this.queue.getJobCounts('waiting', 'prioritized', 'active'),
      this.control.hgetall(k.workers),
    ])
      .then(([counts, workers]) => {
        const now = Date.now();
        const list: RemoteWorkerStats[] = [];
        const gone: string[] = [];
        for (const [id, raw] of Object.entries(workers)) {
          try {
            const w = JSON.parse(raw) as RemoteWorkerStats;
            if (now - w.at < 5000) list.push(w);
            // A worker that died without saying goodbye: its report is dropped after a minute.
            else if (now - w.at > 60_000) gone.push(id);
          } catch {
            gone.push(id);
          }
        }
        if (gone.length) this.control?.hdel(k.workers, ...gone).catch(() => {});
        this.remote = {
          waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
          active: counts.active ?? 0,
          workers: list.sort((a, b) => a.id.localeCompare(b.id)),
          connected: this.connected,
          updatedAt: now,
        };
      })
      .catch(() => {});
  }

  /**
   * Counters of this pool's calls, and the queue and its workers as last read from Redis
   * (refreshed every second). `threads` is the sum of the workers' threads.
   */
  stats(): RemotePoolStats {
    let running = 0;
    for (const call of this.calls.values()) if (call.started) running++;
    const workers = this.remote.workers;
    const threads = workers.reduce((sum, w) => sum + w.threads, 0);
    const busy = workers.reduce((sum, w) => sum + Math.min(w.threads, w.running), 0);
    return {
      name: this.o.name,
      threads,
      busy,
      idle: Math.max(0, threads - busy),
      queued: this.calls.size - running,
      running,
      completed: this.completed,
      failed: this.failed,
      runTime: this.runTimes.percentiles(),
      waitTime: this.waitTimes.percentiles(),
      utilization: threads ? Math.round((busy / threads) * 1000) / 1000 : 0,
      threadsReplaced: 0,
      remote: { ...this.remote, connected: this.connected },
    };
  }

  /** A typed object whose methods run the named exports of a task module remotely. */
  proxy<M>(options: Omit<RemoteRunOptions, 'name'> = {}): PoolProxy<M> {
    const base = { ...options };
    const cache = new Map<string, unknown>();
    return new Proxy(Object.create(null), {
      get: (_target, prop) => {
        if (typeof prop !== 'string' || prop === 'then' || prop === 'toJSON') return undefined;
        let fn = cache.get(prop);
        if (!fn) {
          // Arguments are spread on the worker, as a local pool's proxy does.
          const call =
            (extra: RemoteRunOptions) =>
            (...args: unknown[]) => {
              try {
                return this.submit(args, { ...base, ...extra, name: prop }, false, undefined, true);
              } catch (error) {
                return Promise.reject(error);
              }
            };
          fn = Object.assign(call({}), {
            withOptions: (extra: RemoteRunOptions) => call(extra),
          });
          cache.set(prop, fn);
        }
        return fn;
      },
    }) as PoolProxy<M>;
  }

  /**
   * Have a worker load a task module and check that the named exports are functions. Rejects
   * like run() does (ERR_OFFTHREAD_WORKER_INIT, _TASK_NOT_FOUND, _MODULE_MISMATCH...).
   */
  async preload(options: { filename?: string | URL; names?: string[] } = {}): Promise<void> {
    await this.submit(undefined, { filename: options.filename }, true, options.names);
  }

  /**
   * Stop taking tasks and wait for those in flight (at most `timeout` ms, after which they
   * reject with ERR_OFFTHREAD_POOL_CLOSED), then disconnect. Worker machines are not affected.
   */
  async close(options: { timeout?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    if (this.calls.size > 0) {
      await new Promise<void>((resolve) => {
        const timer =
          options.timeout === undefined ? undefined : setTimeout(resolve, options.timeout);
        this.once('drain', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await this.destroy();
  }

  /**
   * Stop now: calls in flight reject with ERR_OFFTHREAD_POOL_CLOSED, their waiting jobs are
   * removed and running ones cancelled (best effort), and the connections close.
   */
  async destroy(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.closed = true;
    const calls = [...this.calls.values()];
    for (const call of calls) {
      call.attempts = call.attempt;
      this.settle(call, this.closedError(), false);
    }
    clearInterval(this.refreshTimer);
    if (this.connected && this.queue) {
      const cancel = keys(this.o.prefix, this.queueName).cancel;
      await Promise.race([
        Promise.all(
          calls.map((call) =>
            this.queue!.remove(call.jobId).then((removed) =>
              removed === 1 ? undefined : this.control?.publish(cancel, call.jobId),
            ),
          ),
        ).catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 1000)),
      ]);
    }
    await Promise.allSettled([this.checker?.close(), this.events?.close(), this.queue?.close()]);
    this.control?.disconnect();
    this.results?.disconnect();
  }
}
