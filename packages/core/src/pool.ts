import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Transferable, Worker } from 'node:worker_threads';
import { type ContextCarrier, captureContext, wrapArgument } from './context.js';
import { blame, planDispatch, threadsToStart, waitingCount } from './dispatcher.js';
import { deserializeError, type SerializedError } from './error-serialization.js';
import { abortedError, OffThreadError, OffThreadErrorCode } from './errors.js';
import { type FunctionRecord, FunctionTable } from './function-table.js';
import {
  type BroadcastOptions,
  describe,
  type PoolOptions,
  type ResolvedPoolOptions,
  type RunOptions,
  type RunOptionsSnapshot,
  readBroadcastOptions,
  readCloseOptions,
  readPreloadOptions,
  readRunOptions,
  readStreamOptions,
  resolvePoolOptions,
  type StreamOptions,
} from './options.js';
import { kPoolWorkers, livePools } from './pool-registry.js';
import {
  CLOSE_GRACE_MS,
  decodeHeapHigh,
  decodeProgress,
  decodeResults,
  decodeYield,
  encodeAbort,
  encodeCredit,
  encodeForget,
  encodeStreamClose,
  Op,
  Status,
} from './protocol.js';
import { TaskQueue } from './queue/task-queue.js';
import { SignalListeners } from './signal-listeners.js';
import { type PoolStats, SampleWindow } from './stats.js';
import { Task, TaskKind } from './task.js';
import type { TaskPool } from './task-pool.js';
import { type PoolStream, type StreamControl, TaskStream } from './task-stream.js';
import { Thread } from './thread.js';
import { isTransferred } from './transfer.js';
import { removeNodeOption, workerEnv } from './worker-env.js';

/** A function of a task module as seen through {@link Pool.proxy}: same arguments, async result. */
export interface ProxiedFunction<A extends unknown[], R> {
  (...args: A): Promise<Awaited<R>>;
  /** The same call with per-call options (signal, timeout, transferList, priority). */
  withOptions(options: Omit<RunOptions, 'name' | 'filename'>): (...args: A) => Promise<Awaited<R>>;
}

/** The typed view of a task module returned by {@link Pool.proxy}. */
export type PoolProxy<M> = {
  [K in keyof M as M[K] extends (...args: any[]) => any ? K : never]: M[K] extends (
    ...args: infer A
  ) => infer R
    ? ProxiedFunction<A, R>
    : never;
};

/** What the `threadStartFailed` event carries. */
export interface ThreadStartFailure {
  /** ERR_OFFTHREAD_WORKER_INIT, with the original error as `cause`. */
  error: OffThreadError;
  /** Failed starts in a row. */
  attempts: number;
  /** When the pool will try again if it needs a thread (ms from now). */
  retryInMs: number;
}

/** Why a thread was recycled (see the `threadRecycled` event). */
export type RecycleReason = 'maxTasksPerThread' | 'maxThreadHeapMb';

/** What the `threadRecycled` event carries. */
export interface ThreadRecycled {
  /** The recycled thread's `threadId`. */
  threadId: number;
  /** The option whose limit it reached. */
  reason: RecycleReason;
  /** Tasks it was given in its life (including those it still finishes). */
  tasks: number;
  /** Its V8 heap in use (MB) when it passed `maxThreadHeapMb`; only for that reason. */
  heapUsedMb?: number;
}

/** One thread's outcome of {@link Pool.broadcast}, shaped like `Promise.allSettled()`'s. */
export type BroadcastResult<R = unknown> =
  | { threadId: number; status: 'fulfilled'; value: R }
  | { threadId: number; status: 'rejected'; reason: unknown };

/** What the `broadcastFailed` event carries: a broadcast failed on a thread started later. */
export interface BroadcastFailure {
  threadId: number;
  /** The export that was broadcast. */
  name: string;
  filename: string;
  error: unknown;
}

/** A broadcast kept for threads started later (`includeFutureThreads`). */
interface FutureBroadcast {
  arg: unknown;
  timeout: number | undefined;
}

/** First wait after a thread failed to start; it doubles with each failure in a row. */
const START_BACKOFF_MS = 100;
/** Longest wait between two attempts to start a thread while starts keep failing. */
const MAX_START_BACKOFF_MS = 10_000;
/** Task ids are Int32 (they go into the threads' SharedArrayBuffer slots); 0 means none. */
const MAX_TASK_ID = 0x7fffffff;

/**
 * A pool of worker threads that run functions exported by task modules.
 *
 * The pool owns lifecycle and faults; a `Thread` handle (thread.ts) owns one worker, the dispatcher
 * (dispatcher.ts) decides where queued tasks go and what a dead thread's tasks were doing.
 *
 * Events: `threadStart` `{ threadId }`, `threadExit` `{ threadId, exitCode, reason }`,
 * `threadStartFailed` ({@link ThreadStartFailure}), `threadRecycled` ({@link ThreadRecycled}),
 * `broadcastFailed` ({@link BroadcastFailure}).
 *
 * @example
 * const pool = new Pool({ filename: new URL('./tasks.js', import.meta.url) });
 * const digest = await pool.run(input, { name: 'hash' });
 * await pool.close();
 */
export class Pool extends EventEmitter implements TaskPool {
  /** The resolved options (defaults filled in). */
  readonly options: Readonly<ResolvedPoolOptions>;
  private readonly threads = new Set<Thread>();
  private readonly queue = new TaskQueue<Task>();
  private readonly functions = new FunctionTable();
  private defaultFn: FunctionRecord | undefined;
  private readonly signals = new SignalListeners<Task>((task) => this.abort(task));
  private readonly runTimes = new SampleWindow();
  private readonly waitTimes = new SampleWindow();
  private nextTaskId = 1;
  private nextThreadId = 1;
  private starting = 0;
  private completed = 0;
  private failed = 0;
  private threadsReplaced = 0;
  private threadsRecycled = 0;
  /** Thread starts that failed in a row, the last failure, and when the next start may happen. */
  private startFailures = 0;
  private lastStartError: OffThreadError | undefined;
  private nextStartAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private constructing = true;
  private pumpScheduled = false;
  private state: 'open' | 'closing' | 'destroyed' = 'open';
  private closed: Promise<void> | undefined;
  private onDrained: (() => void) | undefined;
  private idleSweep: NodeJS.Timeout | undefined;
  private readonly checkedFiles = new Set<string>();
  /**
   * Broadcasts to run on each thread started later, by filename then export name: one per
   * export (the latest argument wins), so the map is bounded by the exports broadcast.
   */
  private readonly futureBroadcasts = new Map<string, Map<string, FutureBroadcast>>();
  /** Environment for new threads, computed once (see worker-env.ts); undefined inherits. */
  private threadEnv: Record<string, string | undefined> | undefined;

  /**
   * @param options see {@link PoolOptions}; every field is optional.
   * @throws {TypeError | RangeError} when an option is invalid (the message names it).
   * @throws {OffThreadError} ERR_OFFTHREAD_WORKER_INIT when the filename does not exist, or
   * the first thread cannot even be created (e.g. a flag in execArgv that Node refuses).
   */
  constructor(options?: PoolOptions) {
    super();
    this.options = Object.freeze(
      resolvePoolOptions(options, (file, path) => resolveFilename(file, path)),
    );
    if (this.options.filename !== undefined) {
      this.assertFileExists(this.options.filename, 'options.filename');
      this.defaultFn = this.functions.get(this.options.filename, 'default');
    }
    this.threadEnv = workerEnv(this.options.env);
    livePools().add(this);
    try {
      for (let i = 0; i < this.options.minThreads; i++) this.startThread();
    } catch (error) {
      livePools().delete(this);
      this.state = 'destroyed';
      for (const thread of this.threads) void thread.stop('the pool failed to start', false, 0);
      throw error;
    }
    this.constructing = false;
    const { idleTimeout, minThreads, maxThreads } = this.options;
    if (Number.isFinite(idleTimeout) && maxThreads > minThreads) {
      this.idleSweep = setInterval(
        () => this.retireIdleThreads(),
        Math.max(50, Math.min(idleTimeout / 2, 5000)),
      );
      this.idleSweep.unref();
    }
  }

  /**
   * Run a task: call an export of a task module in a pool thread with `arg`.
   *
   * A task runs at most once: nothing re-runs a task that may have started. Tasks that were
   * sent to a thread that died before starting them run elsewhere, once.
   *
   * @param arg passed to the function (structured clone; wrap in `transfer()` to move buffers)
   * @param options export name, module, signal, timeout, queueTimeout, transferList, priority
   * @returns the function's return value (awaited), cloned back to this thread
   * Rejects with {@link OffThreadError} (codes QUEUE_FULL, QUEUE_TIMEOUT, TIMEOUT, ABORTED,
   * WORKER_EXIT, WORKER_INIT, OUT_OF_MEMORY, RESULT_LOST, POOL_CLOSED, TASK_NOT_FOUND,
   * UNCLONEABLE), with a TypeError/RangeError for bad options, or with the error the task
   * threw, rebuilt with its class, message, cause and own properties.
   */
  run<R = any>(arg?: unknown, options?: RunOptions): Promise<R> {
    return this.submit(arg, options, TaskKind.Call) as Promise<R>;
  }

  /**
   * Stream a task: call an export that is an async generator (or returns any async iterable)
   * in a pool thread, and iterate the values it yields, in order, as they come.
   *
   * Backpressure is credit-based: the thread pulls the generator only while fewer than
   * `options.window` (default 8) yielded values wait unread on this side, so a slow consumer
   * slows the generator down instead of filling memory. The task is queued at once (like
   * `run()`) and holds one of its thread's `concurrentTasksPerWorker` slots until it ends: read
   * it to the end, or break out of the loop, to free it.
   *
   * Breaking out of `for await` (or `return()`), aborting `signal` and `timeout` (which counts
   * the whole stream, from its start) stop the generator in its thread, so its `finally` blocks
   * run; a thread that does not stop within `abortGracePeriod` is terminated and replaced, as with
   * `run()`. The fault contract is run()'s: a thread that dies mid-stream rejects the pending
   * `next()` with WORKER_EXIT (or OUT_OF_MEMORY), and a stream that started is never re-run.
   *
   * Yielded values are cloned; a value wrapped in `transfer()` moves its buffers instead. The
   * generator's return value is the `value` of the final `{ done: true }` (for-await ignores it).
   *
   * @param arg passed to the function (structured clone; wrap in `transfer()` to move buffers)
   * @param options run()'s options (name, filename, signal, timeout, queueTimeout, priority,
   * transferList, onProgress) and `window`
   * @returns a {@link PoolStream}; errors (bad options, a full queue, the task's own error)
   * come out of its `next()`. A task that returns no async iterable fails with
   * ERR_OFFTHREAD_NOT_ITERABLE.
   *
   * @example
   * for await (const row of pool.stream(query, { name: 'rows' })) res.write(`${JSON.stringify(row)}\n`);
   */
  stream<T = any, R = any>(arg?: unknown, options?: StreamOptions): PoolStream<T, R> {
    let window: number | undefined;
    let runOptions: ReturnType<typeof readRunOptions> | undefined;
    let invalid: unknown;
    try {
      ({ window, run: runOptions } = readStreamOptions(options));
    } catch (error) {
      invalid = error;
    }
    const stream = new TaskStream<T, R>(window ?? 1, this.streamControl);
    const result =
      invalid === undefined
        ? this.submit(arg, runOptions, TaskKind.Stream, stream)
        : Promise.reject(invalid);
    result.then(
      (value) => stream.end(value),
      (error: unknown) => stream.fail(error),
    );
    return stream;
  }

  /** How stream tasks reach their thread: credit for more values, and an early end. */
  private readonly streamControl: StreamControl = {
    grant: (task, n) => {
      if (!task.settled) task.thread?.post(encodeCredit(task.id, n));
    },
    close: (task) => this.closeStream(task),
  };

  /**
   * A stream's consumer stopped reading. A queued task is dropped; a sent one is asked to end
   * (its generator's finally runs) and settles when the thread reports it, or when its thread
   * is terminated for not stopping within abortGracePeriod.
   */
  private closeStream(task: Task): void {
    if (task.settled) return;
    const thread = task.thread;
    if (thread === undefined) {
      this.fail(task, abortedError(new Error('The consumer closed the stream before it started')));
      this.checkDrained();
      return;
    }
    this.signalThenStop(
      thread,
      task,
      encodeStreamClose(task.id),
      `stream task ${task.id} was closed by its consumer`,
    );
  }

  /**
   * A typed object whose methods call the named exports of a task module in the pool:
   * `const tasks = pool.proxy<typeof import('./tasks.js')>(); await tasks.hash(input)`.
   * Methods take the function's own arguments (all cloned to the thread; an argument wrapped
   * in `transfer()` is moved, exactly as with `run()`).
   */
  proxy<M>(options: Omit<RunOptions, 'name'> = {}): PoolProxy<M> {
    // Read once, now: a getter on the caller's object is not asked again at each call.
    const base = ownRunOptions(readRunOptions(options));
    const cache = new Map<string, ProxiedFunction<unknown[], unknown>>();
    const pool = this;
    return new Proxy({} as PoolProxy<M>, {
      get(_target, property) {
        // Awaiting the proxy or logging it must not look like a task call.
        if (typeof property !== 'string' || property === 'then' || property === 'toJSON')
          return undefined;
        let fn = cache.get(property);
        if (!fn) {
          const call = (runOptions: RunOptions) =>
            function proxied(...args: unknown[]) {
              return pool.submit(args, runOptions, TaskKind.Spread);
            };
          fn = Object.assign(call({ ...base, name: property }), {
            withOptions: (extra: RunOptions) =>
              call({ ...base, ...ownRunOptions(readRunOptions(extra)), name: property }),
          }) as ProxiedFunction<unknown[], unknown>;
          cache.set(property, fn);
        }
        return fn;
      },
    });
  }

  /**
   * Load a task module in a thread and check that the given exports are functions, so a typo
   * fails at start-up rather than on the first request. Names are matched literally.
   *
   * Rejects with ERR_OFFTHREAD_WORKER_INIT (the module failed to load) or
   * ERR_OFFTHREAD_TASK_NOT_FOUND (an export is missing).
   */
  async preload(options: { filename?: string | URL; names?: string[] } = {}): Promise<void> {
    const { filename, names = ['default'] } = readPreloadOptions(options);
    await Promise.all(
      names.map((name) =>
        this.submit(
          undefined,
          filename === undefined ? { name } : { filename, name },
          TaskKind.Check,
        ),
      ),
    );
  }

  /**
   * Run an export once on every live thread (those starting included; those being stopped or
   * recycled excluded), e.g. to reload configuration or warm a cache. On each thread it runs
   * after the tasks the thread already holds. With `includeFutureThreads`, it also runs first
   * thing on every thread started later (the latest argument per export is kept); a failure
   * there is reported by the `broadcastFailed` event (a process warning if nobody listens).
   *
   * @param arg cloned to each thread (it cannot be transferred to several)
   * @param options export `name` (default 'default'), `filename`, `timeout` (per thread, from
   * when the call is sent), `includeFutureThreads`
   * @returns one result per thread, in the shape of `Promise.allSettled()` plus `threadId`:
   * a failure on one thread is reported in its entry, never swallowed or thrown for all.
   * Rejects only for bad options (TypeError/RangeError) or a closed pool (POOL_CLOSED).
   */
  broadcast<R = any>(arg?: unknown, options?: BroadcastOptions): Promise<BroadcastResult<R>[]> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    let fn: FunctionRecord;
    let o: ReturnType<typeof readBroadcastOptions>;
    let context: ContextCarrier | undefined;
    try {
      o = readBroadcastOptions(options);
      fn = this.functionFor(o.filename, o.name ?? 'default');
      // The caller's trace context and carried values go to every live thread (context.ts).
      context = captureContext(this.options.carry, this.options.traceContext);
    } catch (error) {
      return Promise.reject(error);
    }
    const limit = o.timeout ?? this.options.taskTimeout;
    const timeout = limit === Number.POSITIVE_INFINITY ? undefined : limit;
    if (o.includeFutureThreads) {
      let byName = this.futureBroadcasts.get(fn.filename);
      if (byName === undefined) {
        byName = new Map();
        this.futureBroadcasts.set(fn.filename, byName);
      }
      byName.set(fn.name, { arg, timeout });
    }
    const calls: Promise<BroadcastResult<R>>[] = [];
    for (const thread of this.threads) {
      if (thread.exiting) continue;
      const threadId = thread.worker.threadId;
      calls.push(
        this.runOn(thread, fn, arg, timeout, context).then(
          (value) => ({ threadId, status: 'fulfilled', value: value as R }),
          (reason: unknown) => ({ threadId, status: 'rejected', reason }),
        ),
      );
    }
    return Promise.all(calls);
  }

  /** Counters and latency percentiles of the pool. Cheap enough to call every second. */
  stats(): PoolStats {
    const c = this.options.concurrentTasksPerWorker;
    let busy = 0;
    let running = 0;
    let utilization = 0;
    let measured = 0;
    for (const thread of this.threads) {
      const n = thread.inFlight.size;
      if (n > 0) busy++;
      running += Math.min(c, n);
      if (thread.ready && !thread.exiting) {
        utilization += thread.utilization();
        measured++;
      }
    }
    return {
      name: this.options.name,
      threads: this.threads.size,
      busy,
      idle: this.threads.size - busy,
      queued: this.waitingCount(),
      running,
      completed: this.completed,
      failed: this.failed,
      runTime: this.runTimes.percentiles(),
      waitTime: this.waitTimes.percentiles(),
      utilization: measured ? Math.round((utilization / measured) * 1000) / 1000 : 0,
      threadsReplaced: this.threadsReplaced,
      threadsRecycled: this.threadsRecycled,
      threadStartFailures: this.startFailures,
      lastThreadStartError: this.startFailures > 0 ? this.lastStartError?.message : undefined,
    };
  }

  /** The live worker threads, for observers such as `@offthread/diagnostics` (see pool-registry.ts). */
  [kPoolWorkers](): Worker[] {
    const workers: Worker[] = [];
    for (const thread of this.threads)
      if (!thread.exiting && thread.runtime === 'thread') workers.push(thread.worker);
    return workers;
  }

  /** Threads alive right now. */
  get threadCount(): number {
    return this.threads.size;
  }

  /**
   * Graceful shutdown (what a SIGTERM handler calls): stop accepting tasks, let running and
   * queued tasks finish, then stop the threads. With `timeout`, whatever has not finished by
   * then is stopped as by {@link destroy}. Settles whatever state the threads are in.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    // Read once, from own properties: an inherited `timeout` is not a deadline.
    const { timeout } = readCloseOptions(options);
    if (this.state === 'destroyed') return this.closed ?? Promise.resolve();
    if (this.state === 'open') {
      this.state = 'closing';
      clearInterval(this.idleSweep);
      this.closed = new Promise<void>((resolve) => {
        this.onDrained = resolve;
      })
        .then(() => this.stopAllThreads())
        .finally(() => livePools().delete(this));
      this.checkDrained();
    }
    const closed = this.closed as Promise<void>;
    if (timeout !== undefined && Number.isFinite(timeout)) {
      const timer = setTimeout(() => void this.destroy(), timeout);
      timer.unref();
      void closed.finally(() => clearTimeout(timer));
    }
    return closed;
  }

  /**
   * Stop now: every queued and running task rejects with ERR_OFFTHREAD_POOL_CLOSED. Settles
   * once every thread has exited, including threads still starting.
   */
  destroy(): Promise<void> {
    if (this.state === 'destroyed' && this.closed) return this.closed;
    this.state = 'destroyed';
    clearInterval(this.idleSweep);
    clearTimeout(this.restartTimer);
    const reason = () =>
      new OffThreadError(
        OffThreadErrorCode.POOL_CLOSED,
        `Pool '${this.options.name}' was destroyed before the task finished`,
      );
    for (const task of this.queue.drain()) this.fail(task, reason());
    for (const thread of this.threads)
      for (const task of thread.inFlight.values()) this.fail(task, reason());
    const stopped = this.stopAllThreads().finally(() => livePools().delete(this));
    this.closed = stopped;
    this.onDrained?.();
    return stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- submitting ----------------------------------------------------------------------------

  private closedError(): OffThreadError {
    return new OffThreadError(
      OffThreadErrorCode.POOL_CLOSED,
      `Pool '${this.options.name}' is ${this.state === 'closing' ? 'closing' : 'destroyed'} and takes no new tasks`,
    );
  }

  /** A new task with the next id (ids wrap at MAX_TASK_ID) and the promise its caller awaits. */
  private createTask(
    fn: FunctionRecord,
    kind: TaskKind,
    arg: unknown,
    transferList: Task['transferList'],
    priority: number,
    timeout: number | undefined,
    queueTimeout?: number,
    signal?: AbortSignal,
  ): { task: Task; promise: Promise<unknown> } {
    let resolve!: (value: unknown) => void;
    let reject!: (reason: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const id = this.nextTaskId;
    this.nextTaskId = id === MAX_TASK_ID ? 1 : id + 1;
    const task = new Task(
      id,
      fn,
      kind,
      arg,
      transferList,
      priority,
      timeout,
      queueTimeout,
      signal,
      performance.now(),
      resolve,
      reject,
    );
    return { task, promise };
  }

  /** A task for one given thread (broadcast): sent now, never queued, never run elsewhere. */
  private runOn(
    thread: Thread,
    fn: FunctionRecord,
    arg: unknown,
    timeout: number | undefined,
    context?: ContextCarrier,
  ): Promise<unknown> {
    const sent = context === undefined ? arg : wrapArgument(arg, context);
    const { task, promise } = this.createTask(fn, TaskKind.Call, sent, undefined, 0, timeout);
    task.pinned = true;
    if (context !== undefined) task.withContext = true;
    this.dispatch(thread, [task]);
    return promise;
  }

  /** A thread was started: run on it the broadcasts kept for threads started later. */
  private runFutureBroadcasts(thread: Thread): void {
    const threadId = thread.worker.threadId;
    for (const [filename, byName] of this.futureBroadcasts) {
      for (const [name, { arg, timeout }] of byName) {
        this.runOn(thread, this.functions.get(filename, name), arg, timeout).catch(
          (error: unknown) => {
            // Destroyed or closed by its owner: nothing to report.
            if ((error as { code?: unknown })?.code === OffThreadErrorCode.POOL_CLOSED) return;
            const failure: BroadcastFailure = { threadId, name, filename, error };
            if (this.listenerCount('broadcastFailed') > 0) this.emit('broadcastFailed', failure);
            else
              process.emitWarning(
                `offthread: broadcast of '${name}' failed on new thread ${threadId} of pool '${this.options.name}': ${(error as Error)?.message ?? error}. Listen to the pool's 'broadcastFailed' event to handle it.`,
              );
          },
        );
      }
    }
  }

  private submit(
    arg: unknown,
    options: unknown,
    kind: TaskKind,
    stream?: TaskStream<unknown, unknown>,
  ): Promise<unknown> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    let fn = this.defaultFn;
    let transferList: readonly Transferable[] | undefined;
    let o: ReturnType<typeof readRunOptions>;
    try {
      o = readRunOptions(options);
      if (
        fn === undefined ||
        !fn.live ||
        o.filename !== undefined ||
        (o.name !== undefined && o.name !== 'default')
      ) {
        fn = this.functionFor(o.filename, o.name ?? 'default');
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = o.signal;
    if (signal?.aborted) return Promise.reject(abortedError(signal.reason));
    if (
      this.options.maxQueue !== Number.POSITIVE_INFINITY &&
      this.waitingCount() >= this.options.maxQueue
    ) {
      this.failed++;
      return Promise.reject(
        new OffThreadError(
          OffThreadErrorCode.QUEUE_FULL,
          `Pool '${this.options.name}' queue is full (${this.options.maxQueue} tasks waiting). Retry later, shed load, or raise maxQueue.`,
        ),
      );
    }
    transferList = o.transferList;
    if (kind === TaskKind.Spread) {
      // pool.proxy(): each argument may be a transfer() wrapper, exactly as run()'s one argument.
      const args = arg as unknown[];
      let unwrapped: unknown[] | undefined;
      for (let i = 0; i < args.length; i++) {
        const item = args[i];
        if (!isTransferred(item)) continue;
        unwrapped ??= args.slice();
        unwrapped[i] = item.value;
        transferList = transferList ? [...transferList, ...item.transferList] : item.transferList;
      }
      if (unwrapped) arg = unwrapped;
    } else if (isTransferred(arg)) {
      transferList = transferList ? [...transferList, ...arg.transferList] : arg.transferList;
      arg = arg.value;
    }
    // Read now, in the caller's async context; undefined without OpenTelemetry or `carry` (context.ts).
    let context: ContextCarrier | undefined;
    try {
      // A preload check runs no task code: nothing to carry.
      if (kind !== TaskKind.Check)
        context = captureContext(this.options.carry, this.options.traceContext);
    } catch (error) {
      return Promise.reject(error);
    }
    if (context !== undefined) arg = wrapArgument(arg, context);
    const timeout = o.timeout ?? this.options.taskTimeout;
    const queueTimeout = o.queueTimeout ?? this.options.queueTimeout;
    const { task, promise } = this.createTask(
      fn,
      kind,
      arg,
      transferList,
      o.priority ?? 0,
      timeout === undefined || timeout === Number.POSITIVE_INFINITY ? undefined : timeout,
      queueTimeout === Number.POSITIVE_INFINITY ? undefined : queueTimeout,
      signal,
    );
    if (o.onProgress !== undefined) task.onProgress = o.onProgress;
    if (context !== undefined) task.withContext = true;
    if (stream !== undefined) {
      task.stream = stream;
      stream.task = task;
    }
    if (signal) this.signals.add(signal, task);
    this.queue.push(task);
    if (task.queueTimeout !== undefined) {
      task.queueTimer = setTimeout(() => this.onQueueTimeout(task), task.queueTimeout);
      task.queueTimer.unref();
    }
    // Tasks are waiting for a thread start that was put off (see onStartFailure): keep the
    // process alive until then.
    this.restartTimer?.ref();
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      // Dispatch once per tick: a burst of run() calls becomes a few batched messages.
      queueMicrotask(this.scheduledPump);
    }
    return promise.then(undefined, withCallerStack);
  }

  private readonly scheduledPump = () => {
    this.pumpScheduled = false;
    this.pump();
  };

  /** Tasks accepted and waiting to start (see dispatcher.ts waitingCount). */
  private waitingCount(): number {
    return waitingCount(
      this.queue.size,
      this.threads,
      this.threads.size,
      this.starting,
      this.options.concurrentTasksPerWorker,
      this.options.maxThreads,
    );
  }

  private functionFor(file: string | URL | undefined, name: string): FunctionRecord {
    let filename = this.options.filename;
    if (file !== undefined) {
      filename = resolveFilename(file, 'options.filename');
      this.assertFileExists(filename, 'options.filename');
    }
    if (filename === undefined) throw noTaskModuleError();
    const fn = this.functions.get(filename, name);
    if (file === undefined && name === 'default') this.defaultFn = fn;
    return fn;
  }

  private assertFileExists(filename: string, path: string): void {
    if (this.checkedFiles.has(filename)) return;
    if (!existsSync(filename)) {
      throw new OffThreadError(
        OffThreadErrorCode.WORKER_INIT,
        `${path}: the task module ${filename} does not exist. Check the path; with ESM use new URL('./tasks.js', import.meta.url), with CJS path.join(__dirname, 'tasks.js').`,
        { filename },
      );
    }
    this.checkedFiles.add(filename);
  }

  // ---- dispatching ---------------------------------------------------------------------------

  /** Move queued tasks to threads (see dispatcher.ts planDispatch), and start threads if needed. */
  private pump(): void {
    if (this.queue.size === 0 || this.state === 'destroyed') return;
    const c = this.options.concurrentTasksPerWorker;
    const plan = planDispatch(this.queue, this.threads, c, this.starting);
    for (const [thread, tasks] of plan) this.dispatch(thread, tasks);
    const spawn = threadsToStart(
      this.queue.size,
      this.starting,
      c,
      this.threads.size,
      this.options.maxThreads,
    );
    for (let i = 0; i < spawn; i++) if (!this.startThread()) break;
  }

  private dispatch(thread: Thread, tasks: Task[]): void {
    if (thread.inFlight.size === 0) thread.setReferenced(true);
    for (const task of tasks) {
      task.thread = thread;
      thread.inFlight.set(task.id, task);
      if (task.queueTimer !== undefined) {
        clearTimeout(task.queueTimer);
        task.queueTimer = undefined;
      }
      if (task.timeout !== undefined) {
        task.timer = setTimeout(() => this.onTimeout(task), task.timeout);
      }
    }
    for (const { task, error } of thread.send(tasks)) {
      thread.inFlight.delete(task.id);
      task.thread = undefined;
      this.fail(
        task,
        new OffThreadError(
          OffThreadErrorCode.UNCLONEABLE,
          `The task argument could not be sent to a worker thread: ${(error as Error)?.message}. Pass plain data (objects, arrays, strings, numbers, typed arrays, Map, Set, Date), not functions, class instances with methods, sockets or streams.`,
          { cause: error, ...describeTask(task) },
        ),
      );
    }
    if (thread.remaining <= 0) this.recycle(thread, 'maxTasksPerThread');
    if (thread.inFlight.size === 0) this.onIdle(thread);
  }

  // ---- results -------------------------------------------------------------------------------

  private readonly onMessage = (thread: Thread, message: unknown[]): void => {
    this.handleMessage(thread, message);
    this.pump();
    this.checkDrained();
  };

  private handleMessage(thread: Thread, message: unknown[]): void {
    if (message[0] === Op.Results) {
      this.onResults(thread, message);
    } else if (message[0] === Op.Yield) {
      const { id, value } = decodeYield(message);
      const task = thread.inFlight.get(id);
      // A value that arrives after the task settled (timeout, abort) is dropped.
      if (task !== undefined && !task.settled) task.stream?.push(value);
    } else if (message[0] === Op.Ready) {
      if (thread.ready) return;
      thread.ready = true;
      this.starting--;
      this.startFailures = 0;
      this.emit('threadStart', { threadId: thread.worker.threadId });
      if (thread.inFlight.size === 0 && this.queue.size === 0) this.onIdle(thread);
    } else if (message[0] === Op.Progress) {
      const { id, value } = decodeProgress(message);
      const task = thread.inFlight.get(id);
      // A report that arrives after the task settled (timeout, abort) is dropped.
      if (task === undefined || task.settled || task.onProgress === undefined) return;
      try {
        task.onProgress(value);
      } catch (error) {
        // The caller's callback must not break the pool's bookkeeping of this message batch.
        process.emitWarning(
          `offthread: an onProgress callback threw (task '${task.fn.name}' of ${task.fn.filename}): ${(error as Error)?.stack ?? error}`,
        );
      }
    } else if (message[0] === Op.HeapHigh) {
      const heapUsedMb = Math.round((decodeHeapHigh(message) / 1024 / 1024) * 10) / 10;
      this.recycle(thread, 'maxThreadHeapMb', heapUsedMb);
    }
  }

  private onResults(thread: Thread, message: unknown[]): void {
    const now = performance.now();
    decodeResults(message, (id, status, value, runTime) => {
      const task = thread.inFlight.get(id);
      if (task === undefined) return;
      thread.inFlight.delete(id);
      task.thread = undefined;
      if (task.kind !== TaskKind.Check) {
        this.runTimes.record(runTime);
        this.waitTimes.record(Math.max(0, now - task.submittedAt - runTime));
        const average = task.fn.averageRunTime;
        task.fn.averageRunTime = average < 0 ? runTime : average * 0.9 + runTime * 0.1;
      }
      if (status === Status.Ok) {
        if (!task.settled) this.succeed(task, value);
        return;
      }
      let error: unknown;
      try {
        error = deserializeError(value as SerializedError);
      } catch (cause) {
        error = new Error('The task failed with an error that could not be rebuilt', { cause });
      }
      // An export that does not exist leaves nothing behind (FunctionTable).
      if ((error as { code?: unknown })?.code === OffThreadErrorCode.TASK_NOT_FOUND)
        this.forget(task.fn);
      this.fail(task, error);
    });
    if (thread.inFlight.size === 0) this.onIdle(thread);
  }

  private forget(fn: FunctionRecord): void {
    if (!fn.live) return;
    this.functions.delete(fn);
    for (const thread of this.threads)
      if (thread.registered.delete(fn.id)) thread.post(encodeForget(fn.id));
  }

  private succeed(task: Task, value: unknown): void {
    this.cleanup(task);
    this.completed++;
    task.resolve(value);
  }

  private fail(task: Task, error: unknown): void {
    if (task.settled) return;
    this.queue.remove(task);
    this.cleanup(task);
    this.failed++;
    task.reject(error);
  }

  private cleanup(task: Task): void {
    task.settled = true;
    if (task.timer !== undefined) clearTimeout(task.timer);
    if (task.queueTimer !== undefined) clearTimeout(task.queueTimer);
    if (task.signal !== undefined) this.signals.delete(task.signal, task);
  }

  private onIdle(thread: Thread): void {
    thread.lastActive = performance.now();
    if (thread.retiring) {
      // Everything it held has settled: close it; onExit starts a replacement if one is needed.
      void this.stopThread(thread, thread.stopReason ?? 'recycled', true);
      return;
    }
    thread.setReferenced(false);
  }

  /**
   * Recycle a thread that reached a limit: no more tasks go to it; those it holds (running or
   * sent ahead) finish there, then it is closed gracefully (onIdle). Nothing is failed or re-run,
   * and the pool never has more than maxThreads threads: the replacement starts when it exits.
   */
  private recycle(thread: Thread, reason: RecycleReason, heapUsedMb?: number): void {
    if (this.state === 'destroyed') return;
    const why =
      reason === 'maxTasksPerThread'
        ? `recycled: it was given ${thread.given} tasks (maxTasksPerThread)`
        : `recycled: its heap reached ${heapUsedMb} MB (maxThreadHeapMb ${this.options.maxThreadHeapMb})`;
    if (!thread.retire(why)) return;
    this.threadsRecycled++;
    const event: ThreadRecycled = { threadId: thread.worker.threadId, reason, tasks: thread.given };
    if (heapUsedMb !== undefined) event.heapUsedMb = heapUsedMb;
    this.emit('threadRecycled', event);
    if (thread.inFlight.size === 0) this.onIdle(thread);
  }

  private checkDrained(): void {
    if (this.state !== 'closing' || this.queue.size > 0) return;
    for (const thread of this.threads) if (thread.inFlight.size > 0) return;
    this.onDrained?.();
  }

  // ---- faults: timeouts, aborts, crashes -----------------------------------------------------

  private onQueueTimeout(task: Task): void {
    if (task.settled || !task.queued) return;
    this.fail(
      task,
      new OffThreadError(
        OffThreadErrorCode.QUEUE_TIMEOUT,
        `The task waited ${task.queueTimeout} ms in pool '${this.options.name}' without starting (queueTimeout) and was dropped. It never ran, so it is safe to retry; or shed load, add threads, or raise queueTimeout.`,
        { timeout: task.queueTimeout, ...describeTask(task) },
      ),
    );
    this.checkDrained();
  }

  private onTimeout(task: Task): void {
    const thread = task.thread;
    if (task.settled || thread === undefined) return;
    // Its result may be waiting in the port: a task that finished in time keeps its result.
    thread.drain((message) => this.handleMessage(thread, message));
    if (task.settled) return;
    this.fail(
      task,
      new OffThreadError(
        OffThreadErrorCode.TIMEOUT,
        `The task ran longer than its ${task.timeout} ms timeout. Its signal was aborted; a task that does not stop within abortGracePeriod (${this.options.abortGracePeriod} ms) has its thread terminated and replaced.`,
        { timeout: task.timeout, ...describeTask(task) },
      ),
    );
    this.signalThenStop(thread, task, encodeAbort(task.id, true), `task ${task.id} timed out`);
  }

  private abort(task: Task): void {
    if (task.settled) return;
    const reason = task.signal?.reason;
    const thread = task.thread;
    this.fail(task, abortedError(reason));
    if (thread === undefined) {
      this.checkDrained();
      return;
    }
    this.signalThenStop(
      thread,
      task,
      encodeAbort(task.id, false),
      `task ${task.id} ignored its abort signal`,
    );
  }

  /**
   * The caller was answered already; the task gets its signal and abortGracePeriod to stop by
   * itself, then its thread is terminated (the only way to stop code that does not listen).
   */
  private signalThenStop(thread: Thread, task: Task, abort: unknown[], why: string): void {
    thread.post(abort);
    const grace = setTimeout(() => {
      if (!thread.inFlight.has(task.id)) return;
      thread.drain((message) => this.handleMessage(thread, message));
      if (thread.inFlight.has(task.id))
        this.stopThread(thread, `${why} and did not stop within abortGracePeriod`);
    }, this.options.abortGracePeriod);
    grace.unref();
  }

  /** Start a thread; false when none was started (the pool is destroyed or backing off). */
  private startThread(): boolean {
    if (this.state === 'destroyed') return false;
    if (performance.now() < this.nextStartAt) {
      this.scheduleStart();
      return false;
    }
    const id = this.nextThreadId++;
    const inheritsEnv = this.options.env === undefined;
    for (;;) {
      try {
        const thread = Thread.spawn(
          {
            id,
            poolName: this.options.name,
            concurrency: this.options.concurrentTasksPerWorker,
            workerData: this.options.workerData,
            resourceLimits: this.options.resourceLimits,
            env: this.threadEnv,
            execArgv: this.options.execArgv ?? inheritedExecArgv(),
            maxTasks: this.options.maxTasksPerThread,
            maxHeapMb: this.options.maxThreadHeapMb,
            runtime: this.options.runtime,
          },
          this.onMessage,
          (dead, exitCode) => this.onExit(dead, exitCode),
        );
        this.threads.add(thread);
        this.starting++;
        if (this.futureBroadcasts.size > 0) this.runFutureBroadcasts(thread);
        return true;
      } catch (error) {
        // Our edited copy of the process's NODE_OPTIONS may hold a flag threads refuse: drop it.
        const refused = /(--[\w-]+) is not allowed in NODE_OPTIONS/.exec((error as Error)?.message);
        const nodeOptions = this.threadEnv?.NODE_OPTIONS;
        const flag = refused?.[1];
        if (flag !== undefined && inheritsEnv && nodeOptions?.includes(flag)) {
          this.threadEnv = { ...this.threadEnv, NODE_OPTIONS: removeNodeOption(nodeOptions, flag) };
          continue;
        }
        const initError = this.startError(error);
        if (this.constructing) throw initError;
        this.onStartFailure(initError);
        return false;
      }
    }
  }

  private startError(cause: unknown): OffThreadError {
    return new OffThreadError(
      OffThreadErrorCode.WORKER_INIT,
      `Pool '${this.options.name}' could not start a ${this.options.runtime === 'process' ? 'child process' : 'worker thread'}: ${(cause as Error)?.message ?? cause}. Check execArgv, env, resourceLimits and NODE_OPTIONS preloads.`,
      { cause },
    );
  }

  /**
   * A thread could not start. Tasks waiting for one fail (unless another thread works), and the
   * next start is put off, doubling the wait with each failure in a row: a thread that can never
   * start costs a bounded number of attempts, not a tight loop.
   */
  private onStartFailure(error: OffThreadError): void {
    this.startFailures++;
    this.lastStartError = error;
    const delay = Math.min(MAX_START_BACKOFF_MS, START_BACKOFF_MS * 2 ** (this.startFailures - 1));
    this.nextStartAt = performance.now() + delay;
    let working = false;
    for (const thread of this.threads) if (thread.ready && !thread.exiting) working = true;
    if (!working) for (const task of this.queue.drain()) this.fail(task, error);
    this.emit('threadStartFailed', {
      error,
      attempts: this.startFailures,
      retryInMs: delay,
    } satisfies ThreadStartFailure);
    this.replenish();
  }

  /** Try to start a thread when the backoff allows, if one is still needed then. */
  private scheduleStart(): void {
    if (this.restartTimer !== undefined || this.state === 'destroyed') return;
    const wait = Math.max(0, this.nextStartAt - performance.now());
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.replenish();
      this.pump();
    }, Math.ceil(wait));
    // Only tasks waiting for a thread keep the process alive; keeping minThreads does not.
    if (this.queue.size === 0) this.restartTimer.unref();
  }

  /** Keep minThreads alive, and at least one thread while tasks wait. */
  private replenish(): void {
    if (this.state === 'destroyed') return;
    while (
      (this.state === 'open' && this.threads.size < this.options.minThreads) ||
      (this.queue.size > 0 && this.threads.size === 0)
    ) {
      if (!this.startThread()) break;
    }
  }

  private stopThread(thread: Thread, reason: string, graceful = false): Promise<number> {
    return thread.stop(reason, graceful, CLOSE_GRACE_MS);
  }

  private retireIdleThreads(): void {
    const now = performance.now();
    let alive = 0;
    for (const thread of this.threads) if (!thread.exiting) alive++;
    for (const thread of this.threads) {
      if (alive <= this.options.minThreads) break;
      if (
        thread.ready &&
        !thread.exiting &&
        thread.inFlight.size === 0 &&
        now - thread.lastActive >= this.options.idleTimeout
      ) {
        void this.stopThread(thread, 'idle', true);
        alive--;
      }
    }
  }

  /**
   * A thread exited. What its unfinished tasks were doing is read from what it published
   * (dispatcher.ts blame), never inferred: running ones fail with the cause, never-started ones
   * run elsewhere (once), finished ones whose result died with the thread fail as RESULT_LOST.
   */
  private onExit(thread: Thread, exitCode: number): void {
    // Results it sent before dying may still be in the port: they count.
    thread.drain((message) => this.handleMessage(thread, message));
    this.threads.delete(thread);
    if (!thread.ready) this.starting--;
    thread.port.close();
    const { running, neverStarted, lost } = blame(
      thread.inFlight.values(),
      thread.sent,
      thread.startedCount(),
      thread.runningIds(),
    );
    thread.inFlight.clear();
    for (let i = neverStarted.length - 1; i >= 0; i--) {
      const task = neverStarted[i] as Task;
      if (task.settled) continue;
      // A broadcast belongs to this thread: it is not run on another one.
      if (task.pinned) {
        this.fail(task, this.exitError(thread, exitCode, task));
        continue;
      }
      task.thread = undefined;
      clearTimeout(task.timer);
      task.timer = undefined;
      task.requeued = true;
      this.queue.unshift(task);
    }
    for (const task of running) this.fail(task, this.exitError(thread, exitCode, task));
    for (const task of lost) this.fail(task, this.lostError(thread, exitCode, task));
    const startFailed = !thread.ready && thread.stopReason === undefined;
    const crashed = thread.stopReason === undefined || thread.stopReason.startsWith('task');
    this.emit('threadExit', {
      threadId: thread.worker.threadId,
      exitCode,
      reason: thread.stopReason ?? (startFailed ? 'start failed' : 'crash'),
    });
    if (startFailed) {
      const cause =
        thread.crashError ??
        new Error(`${thread.label} ${thread.describeExit(exitCode)} while starting`);
      this.onStartFailure(this.startError(cause));
    } else if (crashed && this.state !== 'destroyed') {
      this.threadsReplaced++;
    }
    if (this.state !== 'destroyed') {
      this.replenish();
      this.pump();
    }
    this.checkDrained();
  }

  private exitError(thread: Thread, exitCode: number, task: Task): OffThreadError {
    const where = describeTask(task);
    const error = thread.crashError;
    if ((error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new OffThreadError(
        OffThreadErrorCode.OUT_OF_MEMORY,
        `The worker thread ran out of memory while running the task (resourceLimits: ${JSON.stringify(this.options.resourceLimits ?? {})}). Raise resourceLimits.maxOldGenerationSizeMb or process less data per task.`,
        { cause: error, exitCode, ...where },
      );
    }
    if (this.state === 'destroyed') {
      return new OffThreadError(
        OffThreadErrorCode.POOL_CLOSED,
        `Pool '${this.options.name}' was destroyed before the task finished`,
        where,
      );
    }
    const why = thread.stopReason
      ? `was stopped because ${thread.stopReason}`
      : error
        ? `crashed with an uncaught ${error.name}: ${error.message}`
        : thread.describeExit(exitCode);
    return new OffThreadError(
      OffThreadErrorCode.WORKER_EXIT,
      `The ${thread.label} running the task ${why}`,
      { cause: error, exitCode, ...where },
    );
  }

  private lostError(thread: Thread, exitCode: number, task: Task): OffThreadError {
    const why = thread.stopReason
      ? `was stopped because ${thread.stopReason}`
      : thread.crashError
        ? `died (${thread.crashError.name}: ${thread.crashError.message})`
        : thread.describeExit(exitCode);
    return new OffThreadError(
      OffThreadErrorCode.RESULT_LOST,
      `The task finished, but its ${thread.label} ${why} before the result could be sent back. The task ran once and was not re-run.`,
      { cause: thread.crashError, exitCode, ...describeTask(task) },
    );
  }

  private async stopAllThreads(): Promise<void> {
    // No thread is needed any more: a start put off by a failure must not happen after this.
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await Promise.all(
      [...this.threads].map((thread) => this.stopThread(thread, 'the pool closed', true)),
    );
  }
}

/** The fields of a run-options snapshot that are set, as a plain RunOptions object. */
function ownRunOptions(snapshot: RunOptionsSnapshot): RunOptions {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(snapshot))
    if (value !== undefined) options[key] = value;
  return options as RunOptions;
}

function describeTask(task: Task): { task: string; filename: string } {
  return { task: task.fn.name, filename: task.fn.filename };
}

/**
 * Threads inherit the process's execArgv, but `--input-type` (set for `node -e` scripts) makes a
 * worker refuse to start; it is about the main script only, so it is left out.
 */
function inheritedExecArgv(): string[] | undefined {
  if (!process.execArgv.some((arg) => arg.startsWith('--input-type'))) return undefined;
  return process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
}

function noTaskModuleError(): TypeError {
  return new TypeError(
    "No task module: pass options.filename to pool.run(), or give the Pool a default filename (new Pool({ filename: new URL('./tasks.js', import.meta.url) }))",
  );
}

/**
 * Give a failed task's error the frames of the code awaiting it. When a stack is captured inside
 * a promise reaction, V8 appends the chain of async functions awaiting that promise ("at async
 * handler (...)"), so this costs nothing until a task fails. Capturing the caller's stack
 * eagerly at run() would cost ~5 µs per task, more than a whole tiny task.
 */
function withCallerStack(error: unknown): never {
  if (error instanceof Error) {
    const site: { stack?: string } = {};
    Error.captureStackTrace(site, withCallerStack);
    const stack = site.stack;
    const newline = stack?.indexOf('\n') ?? -1;
    if (stack !== undefined && newline !== -1) {
      Object.defineProperty(error, 'stack', {
        value: `${error.stack}\n    --- offthread: the task ran in a worker thread; awaited by ---\n${stack.slice(newline + 1)}`,
        writable: true,
        configurable: true,
        enumerable: false,
      });
    }
  }
  throw error;
}

/** Accept an absolute path, a file: URL or a file: URL string; anything else says how to fix it. */
export function resolveFilename(file: unknown, path: string): string {
  if (file instanceof URL) {
    if (file.protocol !== 'file:')
      throw new TypeError(`${path} must be a file: URL, got ${file.href}`);
    return fileURLToPath(file);
  }
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(
      `${path} must be an absolute path or a file URL (new URL('./tasks.js', import.meta.url)), got ${describe(file)}`,
    );
  }
  if (file.startsWith('file:')) return fileURLToPath(file);
  if (!isAbsolute(file)) {
    throw new TypeError(
      `${path} must be an absolute path or a file URL, got the relative path ${JSON.stringify(file)}. Use new URL('${file}', import.meta.url) in ESM or path.join(__dirname, '${file}') in CJS.`,
    );
  }
  return file;
}
