import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type Transferable, Worker } from 'node:worker_threads';
import { deserializeError, type SerializedError } from './error-serialization.js';
import { OffThreadError, OffThreadErrorCode } from './errors.js';
import {
  checkDuration,
  describe,
  type PoolOptions,
  type ResolvedPoolOptions,
  type RunOptions,
  resolvePoolOptions,
} from './options.js';
import { kPoolWorkers, livePools } from './pool-registry.js';
import {
  CLOSE_GRACE_MS,
  kRuntimeData,
  Op,
  RESULT_STRIDE,
  type RuntimeData,
  Status,
} from './protocol.js';
import { TaskQueue } from './queue/task-queue.js';
import { workerRuntimePath } from './runtime-path.js';
import { type PoolStats, SampleWindow } from './stats.js';
import { Task } from './task.js';
import type { TaskPool } from './task-pool.js';
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

/** Prefix of an export name that asks the thread to load and check it, not call it. */
const kCheck = '\u0001check:';
/** Batch ahead only while tasks are this short on average (ms); longer ones need fair placement. */
const BATCH_BUDGET_MS = 2;
const MAX_BATCH_AHEAD = 256;

/**
 * A pool of worker threads that run functions exported by task modules.
 *
 * @example
 * const pool = new Pool({ filename: new URL('./tasks.js', import.meta.url) });
 * const digest = await pool.run(input, { name: 'hash' });
 * await pool.close();
 */
export class Pool extends EventEmitter implements TaskPool {
  /** The resolved options (defaults filled in). */
  readonly options: Readonly<ResolvedPoolOptions>;
  private readonly threads: Thread[] = [];
  private readonly queue = new TaskQueue<Task>();
  private readonly fnIds = new Map<string, number>();
  private readonly fnKeys: string[] = [];
  private readonly defaultFnId: number | undefined;
  private readonly runTimes = new SampleWindow();
  private readonly waitTimes = new SampleWindow();
  private nextTaskId = 1;
  private nextThreadId = 1;
  private starting = 0;
  private completed = 0;
  private failed = 0;
  private threadsReplaced = 0;
  /**
   * Moving average of run time per task function (by fnId; -1 until one has finished). It
   * decides how far ahead that function's tasks may be batched: per function, so tiny tasks
   * do not make a heavy function's tasks look batchable in a pool that runs both.
   */
  private readonly averageRunTime: number[] = [];
  private pumpScheduled = false;
  private state: 'open' | 'closing' | 'destroyed' = 'open';
  private closed: Promise<void> | undefined;
  private onDrained: (() => void) | undefined;
  private idleSweep: NodeJS.Timeout | undefined;
  private readonly checkedFiles = new Set<string>();
  /** Environment for new threads, computed once (see worker-env.ts); undefined inherits. */
  private threadEnv: Record<string, string | undefined> | undefined;

  /**
   * @param options see {@link PoolOptions}; every field is optional.
   * @throws {TypeError | RangeError} when an option is invalid (the message names it).
   */
  constructor(options?: PoolOptions) {
    super();
    this.options = Object.freeze(
      resolvePoolOptions(options, (file, path) => resolveFilename(file, path)),
    );
    if (this.options.filename !== undefined) {
      this.assertFileExists(this.options.filename, 'options.filename');
      this.defaultFnId = this.fnId(this.options.filename, 'default');
    }
    this.threadEnv = workerEnv(this.options.env);
    livePools().add(this);
    for (let i = 0; i < this.options.minThreads; i++) this.startThread();
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
   * @param arg passed to the function (structured clone; wrap in `transfer()` to move buffers)
   * @param options export name, module, signal, timeout, transferList, priority
   * @returns the function's return value (awaited), cloned back to this thread
   * Rejects with {@link OffThreadError} (codes QUEUE_FULL, TIMEOUT, ABORTED, WORKER_EXIT,
   * WORKER_INIT, OUT_OF_MEMORY, POOL_CLOSED, TASK_NOT_FOUND, UNCLONEABLE), or with the error the
   * task threw, rebuilt with its class, message, cause and own properties.
   */
  run<R = any>(arg?: unknown, options?: RunOptions): Promise<R> {
    return this.submit(arg, options, false) as Promise<R>;
  }

  /**
   * A typed object whose methods call the named exports of a task module in the pool:
   * `const tasks = pool.proxy<typeof import('./tasks.js')>(); await tasks.hash(input)`.
   * Methods take the function's own arguments (all cloned to the thread).
   */
  proxy<M>(options: Omit<RunOptions, 'name'> = {}): PoolProxy<M> {
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
              return pool.submit(args, runOptions, true);
            };
          fn = Object.assign(call({ ...options, name: property }), {
            withOptions: (extra: RunOptions) => call({ ...options, ...extra, name: property }),
          }) as ProxiedFunction<unknown[], unknown>;
          cache.set(property, fn);
        }
        return fn;
      },
    });
  }

  /**
   * Load a task module in a thread and check that the given exports are functions, so a typo
   * fails at start-up rather than on the first request.
   *
   * Rejects with ERR_OFFTHREAD_WORKER_INIT (the module failed to load) or
   * ERR_OFFTHREAD_TASK_NOT_FOUND (an export is missing).
   */
  async preload(options: { filename?: string | URL; names?: string[] } = {}): Promise<void> {
    const names = options.names ?? ['default'];
    await Promise.all(
      names.map((name) =>
        this.submit(undefined, { filename: options.filename, name: kCheck + name }, false),
      ),
    );
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
        utilization += threadUtilization(thread);
        measured++;
      }
    }
    return {
      name: this.options.name,
      threads: this.threads.length,
      busy,
      idle: this.threads.length - busy,
      queued: this.queuedCount(),
      running,
      completed: this.completed,
      failed: this.failed,
      runTime: this.runTimes.percentiles(),
      waitTime: this.waitTimes.percentiles(),
      utilization: measured ? Math.round((utilization / measured) * 1000) / 1000 : 0,
      threadsReplaced: this.threadsReplaced,
    };
  }

  /** The live worker threads, for observers such as `@offthread/diagnostics` (see pool-registry.ts). */
  [kPoolWorkers](): Worker[] {
    return this.threads.filter((t) => !t.exiting).map((t) => t.worker);
  }

  /** Threads alive right now. */
  get threadCount(): number {
    return this.threads.length;
  }

  /**
   * Graceful shutdown (what a SIGTERM handler calls): stop accepting tasks, let running and
   * queued tasks finish, then stop the threads. With `timeout`, whatever has not finished by
   * then is stopped as by {@link destroy}.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    if (options.timeout !== undefined) checkDuration(options.timeout, 'options.timeout', true);
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
    if (options.timeout !== undefined && Number.isFinite(options.timeout)) {
      const timer = setTimeout(() => void this.destroy(), options.timeout);
      timer.unref();
      this.closed!.finally(() => clearTimeout(timer));
    }
    return this.closed!;
  }

  /** Stop now: every queued and running task rejects with ERR_OFFTHREAD_POOL_CLOSED. */
  destroy(): Promise<void> {
    if (this.state === 'destroyed') return this.closed!;
    this.state = 'destroyed';
    clearInterval(this.idleSweep);
    const reason = () =>
      new OffThreadError(
        OffThreadErrorCode.POOL_CLOSED,
        `Pool '${this.options.name}' was destroyed before the task finished`,
      );
    for (const task of this.queue.drain()) this.fail(task, reason());
    for (const thread of this.threads)
      for (const task of thread.inFlight.values()) this.fail(task, reason());
    const stopped = this.stopAllThreads().finally(() => livePools().delete(this));
    this.onDrained?.();
    this.closed = stopped;
    return stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- submitting ----------------------------------------------------------------------------

  private submit(arg: unknown, options: RunOptions | undefined, spread: boolean): Promise<unknown> {
    if (this.state !== 'open') {
      return Promise.reject(
        new OffThreadError(
          OffThreadErrorCode.POOL_CLOSED,
          `Pool '${this.options.name}' is ${this.state === 'closing' ? 'closing' : 'destroyed'} and takes no new tasks`,
        ),
      );
    }
    let fnId = this.defaultFnId;
    let priority = 0;
    let timeout = this.options.taskTimeout;
    let signal: AbortSignal | undefined;
    let transferList: readonly Transferable[] | undefined;
    if (options !== undefined) {
      try {
        if (
          options.filename !== undefined ||
          (options.name !== undefined && options.name !== 'default')
        ) {
          fnId = this.fnIdFor(options);
        }
        if (options.priority !== undefined) {
          if (typeof options.priority !== 'number' || Number.isNaN(options.priority)) {
            throw new TypeError(
              `options.priority must be a number, got ${describe(options.priority)}`,
            );
          }
          priority = options.priority;
        }
        if (options.timeout !== undefined) {
          checkDuration(options.timeout, 'options.timeout', true);
          timeout = Number.isFinite(options.timeout) ? options.timeout : undefined;
        }
        if (options.signal !== undefined) {
          if (!(options.signal instanceof AbortSignal)) {
            throw new TypeError(
              `options.signal must be an AbortSignal, got ${describe(options.signal)}`,
            );
          }
          signal = options.signal;
        }
        if (options.transferList !== undefined) {
          if (!Array.isArray(options.transferList))
            throw new TypeError('options.transferList must be an array');
          transferList = options.transferList;
        }
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (fnId === undefined) {
      return Promise.reject(noTaskModuleError());
    }
    if (signal?.aborted) {
      return Promise.reject(abortedError(signal.reason));
    }
    if (
      this.options.maxQueue !== Number.POSITIVE_INFINITY &&
      this.queuedCount() >= this.options.maxQueue
    ) {
      this.failed++;
      return Promise.reject(
        new OffThreadError(
          OffThreadErrorCode.QUEUE_FULL,
          `Pool '${this.options.name}' queue is full (${this.options.maxQueue} tasks waiting). Retry later, shed load, or raise maxQueue.`,
        ),
      );
    }
    if (isTransferred(arg)) {
      transferList = transferList
        ? [...transferList, ...arg.transferList]
        : (arg.transferList as Transferable[]);
      arg = arg.value;
    }
    let resolve!: (value: unknown) => void;
    let reject!: (reason: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const task = new Task(
      this.nextTaskId++,
      fnId,
      arg,
      spread,
      transferList,
      priority,
      timeout,
      signal,
      performance.now(),
      resolve,
      reject,
    );
    if (signal) {
      task.onAbort = () => this.abort(task);
      signal.addEventListener('abort', task.onAbort, { once: true });
    }
    this.queue.push(task);
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

  /**
   * Tasks accepted and waiting to start. Tasks in the pool's queue that a free slot (of a ready
   * thread, or of one that is starting) will take at the next dispatch are not waiting.
   */
  private queuedCount(): number {
    let ahead = 0;
    let free = this.starting * this.options.concurrentTasksPerWorker;
    const c = this.options.concurrentTasksPerWorker;
    for (const thread of this.threads) {
      if (thread.exiting) continue;
      if (thread.inFlight.size > c) ahead += thread.inFlight.size - c;
      else if (thread.ready) free += c - thread.inFlight.size;
    }
    if (this.threads.length < this.options.maxThreads) {
      free += (this.options.maxThreads - this.threads.length) * c;
    }
    return Math.max(0, this.queue.size - free) + ahead;
  }

  private fnIdFor(options: RunOptions): number {
    let filename = this.options.filename;
    if (options.filename !== undefined) {
      filename = resolveFilename(options.filename, 'options.filename');
      this.assertFileExists(filename, 'options.filename');
    }
    if (filename === undefined) {
      throw noTaskModuleError();
    }
    const name = options.name ?? 'default';
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(
        `options.name must be the name of an exported function, got ${describe(name)}`,
      );
    }
    return this.fnId(filename, name);
  }

  private fnId(filename: string, name: string): number {
    const key = `${filename}\0${name}`;
    let id = this.fnIds.get(key);
    if (id === undefined) {
      id = this.fnKeys.length;
      this.fnKeys.push(key);
      this.fnIds.set(key, id);
    }
    return id;
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

  /** Move queued tasks to threads: first into free slots, then (short tasks only) ahead in batches. */
  private pump(): void {
    if (this.queue.size === 0) return;
    const c = this.options.concurrentTasksPerWorker;
    const ready = this.threads.filter((t) => t.ready && !t.exiting);
    const batches = new Map<Thread, Task[]>();
    for (const thread of ready) {
      let room = c - thread.inFlight.size;
      while (room > 0 && this.queue.size > 0) {
        this.assign(thread, this.queue.shift()!, batches);
        room--;
      }
    }
    if (this.queue.size > 0 && ready.length > 0) {
      // Spread the backlog evenly, keeping a share for threads still starting: tasks sent ahead
      // to one thread cannot be taken back by another that becomes free.
      const share = Math.ceil(this.queue.size / (ready.length + this.starting));
      for (const thread of ready) {
        for (let head = this.queue.peek(); head?.batchable; head = this.queue.peek()) {
          if (thread.inFlight.size >= c + Math.min(share, this.batchAhead(head.fnId))) break;
          this.assign(thread, this.queue.shift()!, batches);
        }
      }
    }
    for (const [thread, tasks] of batches) this.send(thread, tasks);
    const backlog = this.queue.size - this.starting * c;
    if (
      backlog > 0 &&
      this.threads.length < this.options.maxThreads &&
      this.state !== 'destroyed'
    ) {
      const spawn = Math.min(this.options.maxThreads - this.threads.length, Math.ceil(backlog / c));
      for (let i = 0; i < spawn; i++) this.startThread();
    }
  }

  /** How many tasks of this function may wait in a thread beyond its free slots. */
  private batchAhead(fnId: number): number {
    const average = this.averageRunTime[fnId] ?? -1;
    if (average < 0) return 0; // never seen: send it only where it starts at once
    return Math.min(MAX_BATCH_AHEAD, Math.floor(BATCH_BUDGET_MS / Math.max(average, 0.001)));
  }

  private assign(thread: Thread, task: Task, batches: Map<Thread, Task[]>): void {
    task.thread = thread;
    if (thread.inFlight.size === 0) thread.setReferenced(true);
    thread.inFlight.set(task.id, task);
    let batch = batches.get(thread);
    if (!batch) {
      batch = [];
      batches.set(thread, batch);
    }
    batch.push(task);
    if (task.timeout !== undefined) {
      task.timer = setTimeout(() => this.onTimeout(task), task.timeout);
    }
  }

  private send(thread: Thread, tasks: Task[]): void {
    const message: unknown[] = [Op.Run];
    let transfers: Transferable[] | undefined;
    for (const task of tasks) {
      this.registerFn(thread, task.fnId);
      message.push(task.id, task.fnId, task.spread ? 1 : 0, task.arg);
      if (task.transferList) {
        transfers ??= [];
        for (const item of task.transferList) transfers.push(item);
      }
    }
    try {
      thread.port.postMessage(message, transfers);
    } catch {
      // One argument in the batch cannot be cloned. Send the tasks one by one so only that task fails.
      for (const task of tasks) {
        try {
          thread.port.postMessage(
            [Op.Run, task.id, task.fnId, task.spread ? 1 : 0, task.arg],
            task.transferList as Transferable[],
          );
        } catch (cloneError) {
          thread.inFlight.delete(task.id);
          clearTimeout(task.timer);
          this.fail(
            task,
            new OffThreadError(
              OffThreadErrorCode.UNCLONEABLE,
              `The task argument could not be sent to a worker thread: ${(cloneError as Error).message}. Pass plain data (objects, arrays, strings, numbers, typed arrays, Map, Set, Date), not functions, class instances with methods, sockets or streams.`,
              { cause: cloneError, ...this.describeTask(task) },
            ),
          );
        }
      }
      if (thread.inFlight.size === 0) this.onIdle(thread);
    }
  }

  private registerFn(thread: Thread, fnId: number): void {
    if (thread.registered.has(fnId)) return;
    thread.registered.add(fnId);
    const [filename, name] = this.fnKeys[fnId].split('\0');
    thread.port.postMessage([Op.Register, fnId, filename, name]);
  }

  private describeTask(task: Task): { task: string; filename: string } {
    const [filename, name] = this.fnKeys[task.fnId].split('\0');
    return { task: name.startsWith(kCheck) ? name.slice(kCheck.length) : name, filename };
  }

  // ---- results -------------------------------------------------------------------------------

  private onMessage(thread: Thread, message: unknown[]): void {
    if (message[0] === Op.Results) {
      this.onResults(thread, message);
    } else if (message[0] === Op.Ready) {
      thread.ready = true;
      this.starting--;
      this.emit('threadStart', { threadId: thread.worker.threadId });
      if (thread.inFlight.size === 0 && this.queue.size === 0) this.onIdle(thread);
    }
    this.pump();
    this.checkDrained();
  }

  private onResults(thread: Thread, message: unknown[]): void {
    const now = performance.now();
    for (let i = 1; i < message.length; i += RESULT_STRIDE) {
      const task = thread.inFlight.get(message[i] as number);
      if (task === undefined) continue;
      thread.inFlight.delete(task.id);
      const runTime = message[i + 3] as number;
      this.runTimes.record(runTime);
      this.waitTimes.record(Math.max(0, now - task.submittedAt - runTime));
      const average = this.averageRunTime[task.fnId] ?? -1;
      this.averageRunTime[task.fnId] = average < 0 ? runTime : average * 0.9 + runTime * 0.1;
      if (task.settled) continue;
      if (message[i + 1] === Status.Ok) {
        this.succeed(task, message[i + 2]);
      } else {
        this.fail(task, deserializeError(message[i + 2] as SerializedError));
      }
    }
    if (thread.inFlight.size === 0) this.onIdle(thread);
  }

  private succeed(task: Task, value: unknown): void {
    this.cleanup(task);
    this.completed++;
    task.resolve(value);
  }

  private fail(task: Task, error: unknown): void {
    if (task.settled) return;
    this.cleanup(task);
    this.failed++;
    task.reject(error);
  }

  private cleanup(task: Task): void {
    task.settled = true;
    if (task.timer !== undefined) clearTimeout(task.timer);
    if (task.onAbort) task.signal!.removeEventListener('abort', task.onAbort);
  }

  private onIdle(thread: Thread): void {
    thread.lastActive = performance.now();
    thread.setReferenced(false);
  }

  private checkDrained(): void {
    if (this.state !== 'closing' || this.queue.size > 0) return;
    for (const thread of this.threads) if (thread.inFlight.size > 0) return;
    this.onDrained?.();
  }

  // ---- faults: timeouts, aborts, crashes -----------------------------------------------------

  private onTimeout(task: Task): void {
    const thread = task.thread;
    this.fail(
      task,
      new OffThreadError(
        OffThreadErrorCode.TIMEOUT,
        `The task ran longer than its ${task.timeout} ms timeout and was stopped (its thread was terminated and replaced)`,
        { timeout: task.timeout, ...this.describeTask(task) },
      ),
    );
    if (thread) this.stopThread(thread, `task ${task.id} timed out`);
  }

  private abort(task: Task): void {
    const reason = task.signal?.reason;
    const thread = task.thread;
    if (!thread) {
      this.queue.remove(task);
      this.fail(task, abortedError(reason));
      this.checkDrained();
      return;
    }
    this.fail(task, abortedError(reason));
    // The caller is answered at once; the thread gets the signal and a grace period to stop.
    thread.port.postMessage([Op.Abort, task.id]);
    const grace = setTimeout(() => {
      if (thread.inFlight.has(task.id))
        this.stopThread(thread, `task ${task.id} ignored its abort signal`);
    }, this.options.abortGracePeriod);
    grace.unref();
  }

  private startThread(): void {
    const { port1, port2 } = new MessageChannel();
    const runtime: RuntimeData = {
      port: port2,
      concurrency: this.options.concurrentTasksPerWorker,
      poolName: this.options.name,
      user: this.options.workerData,
    };
    const id = this.nextThreadId++;
    const inheritsEnv = this.options.env === undefined;
    let worker: Worker | undefined;
    while (!worker) {
      try {
        worker = new Worker(workerRuntimePath, {
          workerData: { [kRuntimeData]: runtime },
          transferList: [port2],
          resourceLimits: this.options.resourceLimits,
          env: this.threadEnv,
          execArgv: this.options.execArgv ?? inheritedExecArgv(),
          name: `${this.options.name}#${id}`,
          stdout: false,
          stderr: false,
        } as ConstructorParameters<typeof Worker>[1]);
      } catch (error) {
        // Our edited copy of the process's NODE_OPTIONS may hold a flag threads refuse: drop it.
        const refused = /(--[\w-]+) is not allowed in NODE_OPTIONS/.exec((error as Error).message);
        const nodeOptions = this.threadEnv?.NODE_OPTIONS;
        if (refused && inheritsEnv && nodeOptions?.includes(refused[1])) {
          this.threadEnv = {
            ...this.threadEnv,
            NODE_OPTIONS: removeNodeOption(nodeOptions, refused[1]),
          };
          continue;
        }
        port1.close();
        throw new OffThreadError(
          OffThreadErrorCode.WORKER_INIT,
          `Pool '${this.options.name}' could not start a worker thread: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    const thread = new Thread(id, worker, port1);
    this.threads.push(thread);
    this.starting++;
    port1.on('message', (message: unknown[]) => this.onMessage(thread, message));
    worker.on('error', (error) => {
      thread.crashError = error;
    });
    worker.on('exit', (code) => this.onExit(thread, code));
  }

  /**
   * Stop a thread. A healthy idle thread is asked to close (its onThreadClose hooks run) and is
   * terminated only if it takes longer than CLOSE_GRACE_MS; a stuck or crashed one is terminated.
   */
  private stopThread(thread: Thread, reason: string, graceful = false): void {
    if (thread.exiting) return;
    thread.exiting = true;
    thread.stopReason = reason;
    if (graceful && thread.ready && thread.inFlight.size === 0) {
      // Keep the process alive until the thread has run its hooks and exited.
      thread.setReferenced(true);
      thread.port.postMessage([Op.Close]);
      const deadline = setTimeout(() => void thread.worker.terminate(), CLOSE_GRACE_MS);
      deadline.unref();
      thread.worker.once('exit', () => clearTimeout(deadline));
      return;
    }
    void thread.worker.terminate();
  }

  private retireIdleThreads(): void {
    const now = performance.now();
    let alive = this.threads.filter((t) => !t.exiting).length;
    for (const thread of this.threads) {
      if (alive <= this.options.minThreads) break;
      if (
        thread.ready &&
        !thread.exiting &&
        thread.inFlight.size === 0 &&
        now - thread.lastActive >= this.options.idleTimeout
      ) {
        this.stopThread(thread, 'idle', true);
        alive--;
      }
    }
  }

  private onExit(thread: Thread, exitCode: number): void {
    const index = this.threads.indexOf(thread);
    if (index !== -1) this.threads.splice(index, 1);
    if (!thread.ready) this.starting--;
    thread.port.close();
    const c = this.options.concurrentTasksPerWorker;
    const unfinished = [...thread.inFlight.values()];
    thread.inFlight.clear();
    // A thread starts its tasks in the order they were sent, at most `c` at a time, so the
    // first `c` unfinished ones were running and the rest never started: those go back to the
    // front of the queue rather than failing for something they did not do.
    const neverStarted = unfinished.slice(c).filter((task) => !task.settled);
    for (let i = neverStarted.length - 1; i >= 0; i--) {
      neverStarted[i].thread = undefined;
      clearTimeout(neverStarted[i].timer);
      this.queue.unshift(neverStarted[i]);
    }
    for (const task of unfinished.slice(0, c))
      this.fail(task, this.exitError(thread, exitCode, task));
    const crashed = thread.stopReason === undefined || thread.stopReason.startsWith('task');
    if (!thread.ready && thread.stopReason === undefined && !this.threads.some((t) => t.ready)) {
      // It died before it could take a task and no thread works: starting another would most
      // likely die the same way, so the waiting tasks fail instead of looping forever.
      const cause =
        thread.crashError ?? new Error(`worker thread exited with code ${exitCode} while starting`);
      for (const task of this.queue.drain()) {
        this.fail(
          task,
          new OffThreadError(
            OffThreadErrorCode.WORKER_INIT,
            `Pool '${this.options.name}' could not start a worker thread: ${cause.message}. Check execArgv, env, resourceLimits and NODE_OPTIONS preloads.`,
            { cause },
          ),
        );
      }
    } else if (crashed && this.state !== 'destroyed') {
      this.threadsReplaced++;
    }
    this.emit('threadExit', {
      threadId: thread.worker.threadId,
      exitCode,
      reason: thread.stopReason ?? 'crash',
    });
    if (this.state !== 'destroyed') {
      const alive = this.threads.length;
      if (
        (this.state === 'open' && alive < this.options.minThreads) ||
        (this.queue.size > 0 && alive === 0)
      ) {
        this.startThread();
      }
      this.pump();
    }
    this.checkDrained();
  }

  private exitError(thread: Thread, exitCode: number, task: Task): OffThreadError {
    const where = this.describeTask(task);
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
        : `exited with code ${exitCode}`;
    return new OffThreadError(
      OffThreadErrorCode.WORKER_EXIT,
      `The worker thread running the task ${why}`,
      {
        cause: error,
        exitCode,
        ...where,
      },
    );
  }

  private async stopAllThreads(): Promise<void> {
    const exits = this.threads.map(
      (thread) =>
        new Promise<void>((resolve) => {
          if (thread.worker.threadId === -1) return resolve();
          thread.worker.once('exit', () => resolve());
          this.stopThread(thread, 'the pool closed', true);
        }),
    );
    await Promise.all(exits);
  }
}

/**
 * Threads inherit the process's execArgv, but `--input-type` (set for `node -e` scripts) makes a
 * worker refuse to start; it is about the main script only, so it is left out.
 */
function inheritedExecArgv(): string[] | undefined {
  if (!process.execArgv.some((arg) => arg.startsWith('--input-type'))) return undefined;
  return process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
}

/**
 * A thread's event-loop utilization over the last one to two seconds. Two readings are kept so
 * that several readers (a dashboard, a load shedder) see the same window instead of each
 * resetting the other's baseline.
 */
function threadUtilization(thread: Thread): number {
  const performance = thread.worker.performance;
  const now = performance.eventLoopUtilization();
  // Until a second has passed, the window starts when the thread did.
  thread.eluBase ??= { idle: 0, active: 0, utilization: 0 };
  const elapsed = (from: EventLoopUtilization) => now.idle + now.active - from.idle - from.active;
  if (thread.eluMiddle && elapsed(thread.eluMiddle) >= 1000) {
    thread.eluBase = thread.eluMiddle;
    thread.eluMiddle = now;
  } else if (!thread.eluMiddle && elapsed(thread.eluBase) >= 1000) {
    thread.eluMiddle = now;
  }
  return elapsed(thread.eluBase) > 0
    ? performance.eventLoopUtilization(now, thread.eluBase).utilization
    : 0;
}

function noTaskModuleError(): TypeError {
  return new TypeError(
    "No task module: pass options.filename to pool.run(), or give the Pool a default filename (new Pool({ filename: new URL('./tasks.js', import.meta.url) }))",
  );
}

function abortedError(reason: unknown): OffThreadError {
  return new OffThreadError(OffThreadErrorCode.ABORTED, 'The task was aborted by its signal', {
    cause: reason,
  });
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
    const newline = site.stack?.indexOf('\n') ?? -1;
    if (newline !== -1) {
      Object.defineProperty(error, 'stack', {
        value: `${error.stack}\n    --- offthread: the task ran in a worker thread; awaited by ---\n${site.stack!.slice(newline + 1)}`,
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
