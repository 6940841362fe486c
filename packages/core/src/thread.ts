import type { EventLoopUtilization } from 'node:perf_hooks';
import {
  MessageChannel,
  type MessagePort,
  type ResourceLimits,
  receiveMessageOnPort,
  type Transferable,
  Worker,
} from 'node:worker_threads';
import type { PoolRuntime } from './process-options.js';
import { ProcessThread } from './process-thread.js';
import {
  appendRun,
  encodeCheck,
  encodeClose,
  encodeRegister,
  encodeRun,
  kRuntimeData,
  RunFlag,
  type RuntimeData,
  Slab,
  slabBytes,
} from './protocol.js';
import { workerRuntimePath } from './runtime-path.js';
import { type Task, TaskKind } from './task.js';

/** What a thread is started with. */
export interface ThreadSpawnOptions {
  id: number;
  poolName: string;
  concurrency: number;
  workerData: unknown;
  resourceLimits: ResourceLimits | undefined;
  env: Record<string, string | undefined> | undefined;
  execArgv: string[] | undefined;
  /** Tasks it may be given before it is recycled; `Infinity` for no limit. */
  maxTasks: number;
  /** Heap in use (MB) past which the thread reports it (Op.HeapHigh); `Infinity` for never. */
  maxHeapMb: number;
  /** Worker thread (default) or child process (see process-thread.ts). */
  runtime?: PoolRuntime;
}

/**
 * The pool's handle on one of its workers: a worker thread, or a child process with the same
 * interface (process-thread.ts). The pool narrows on `runtime` only where they differ.
 */
export type Thread = WorkerThread | ProcessThread;

/** Start a worker of the kind the pool's `runtime` option asks for. */
export const Thread = {
  spawn(
    options: ThreadSpawnOptions,
    onMessage: (thread: Thread, message: unknown[]) => void,
    onExit: (thread: Thread, exitCode: number) => void,
  ): Thread {
    return options.runtime === 'process'
      ? ProcessThread.spawn(options, onMessage, onExit)
      : WorkerThread.spawn(options, onMessage, onExit);
  },
};

/** A task that could not be posted, and why. */
export interface PostFailure {
  task: Task;
  error: unknown;
}

/**
 * The pool's handle on one worker thread. It owns the Worker: starting it, posting batches of
 * tasks to it, reading what it publishes about the task(s) it runs, its utilization window, and
 * stopping it. What to do with tasks when it dies is the pool's business (see pool.ts onExit).
 */
export class WorkerThread {
  readonly runtime = 'thread' as const;
  /** What error messages call it. */
  readonly label = 'worker thread';
  /** Tasks sent to the thread and not yet reported back, in the order they were sent. */
  readonly inFlight = new Map<number, Task>();
  /** Task functions this thread already knows (see Op.Register). */
  readonly registered = new Set<number>();
  /** Tasks posted so far (Int32, wraps); the thread publishes how many it started (Slab.Started). */
  sent = 0;
  ready = false;
  /** Set once we decided to stop (or recycle) the thread; it takes no more tasks. */
  exiting = false;
  /**
   * Being recycled: it takes no more tasks, finishes those it has, then is closed gracefully
   * (see {@link retire}). `stopReason` says why.
   */
  retiring = false;
  /** Tasks posted to it since it started (checks included). */
  given = 0;
  /** Set once stop() ran: it is being closed or terminated. */
  private stopping = false;
  /** Why the pool stopped it (timeout, abort grace, idle, close); undefined for a crash. */
  stopReason: string | undefined;
  /** The uncaught error that brought the thread down, if any. */
  crashError: Error | undefined;
  /** Set when the thread has exited. */
  exitCode: number | undefined;
  /** Settles when the thread has exited (with its exit code); never rejects. */
  readonly exited: Promise<number>;
  lastActive = 0;
  private referenced = true;
  /** Event-loop utilization readings behind `stats().utilization` (see {@link utilization}). */
  private readonly window = new UtilizationWindow();
  /** Written by the thread (Atomics.store): how many tasks it started, and which run now. */
  private readonly slab: Int32Array;

  private constructor(
    readonly id: number,
    readonly worker: Worker,
    readonly port: MessagePort,
    slab: SharedArrayBuffer,
    private readonly maxTasks: number,
  ) {
    this.slab = new Int32Array(slab);
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  /**
   * Start a thread. Throws what `new Worker()` throws (bad execArgv, uncloneable workerData...).
   * `onMessage` gets the thread's messages; `onExit` runs once when it has exited.
   */
  static spawn(
    options: ThreadSpawnOptions,
    onMessage: (thread: WorkerThread, message: unknown[]) => void,
    onExit: (thread: WorkerThread, exitCode: number) => void,
  ): WorkerThread {
    const { port1, port2 } = new MessageChannel();
    const slab = new SharedArrayBuffer(slabBytes(options.concurrency));
    const runtime: RuntimeData = {
      port: port2,
      concurrency: options.concurrency,
      poolName: options.poolName,
      user: options.workerData,
      slab,
      heapLimitBytes: Number.isFinite(options.maxHeapMb)
        ? Math.ceil(options.maxHeapMb * 1024 * 1024)
        : 0,
    };
    let worker: Worker;
    try {
      worker = new Worker(workerRuntimePath, {
        workerData: { [kRuntimeData]: runtime },
        transferList: [port2],
        resourceLimits: options.resourceLimits,
        env: options.env,
        execArgv: options.execArgv,
        name: `${options.poolName}#${options.id}`,
        stdout: false,
        stderr: false,
      } as ConstructorParameters<typeof Worker>[1]);
    } catch (error) {
      port1.close();
      port2.close();
      throw error;
    }
    const thread = new WorkerThread(options.id, worker, port1, slab, options.maxTasks);
    port1.on('message', (message: unknown[]) => onMessage(thread, message));
    worker.on('error', (error) => {
      thread.crashError ??= error;
    });
    void thread.exited.then((code) => onExit(thread, code));
    return thread;
  }

  /**
   * Post tasks in one message (checks in their own messages, in order). Returns the tasks that
   * could not be posted (their argument cannot be cloned); the others are in flight.
   */
  send(tasks: readonly Task[]): PostFailure[] {
    let message = encodeRun();
    let transfers: Transferable[] | undefined;
    let batch: Task[] = [];
    const failures: PostFailure[] = [];
    const postBatch = () => {
      if (batch.length === 0) return;
      this.postRuns(message, transfers, batch, failures);
      message = encodeRun();
      transfers = undefined;
      batch = [];
    };
    for (const task of tasks) {
      this.register(task);
      if (task.kind === TaskKind.Check) {
        postBatch();
        this.port.postMessage(encodeCheck(task.id, task.fn.id));
        this.accept(task);
        continue;
      }
      appendRun(message, task.id, task.fn.id, runFlags(task), task.arg);
      batch.push(task);
      if (task.transferList) {
        transfers ??= [];
        for (const item of task.transferList) transfers.push(item);
      }
    }
    postBatch();
    return failures;
  }

  private postRuns(
    message: unknown[],
    transfers: Transferable[] | undefined,
    batch: Task[],
    failures: PostFailure[],
  ): void {
    try {
      this.port.postMessage(message, transfers);
      for (const task of batch) this.accept(task);
    } catch {
      // One argument in the batch cannot be cloned. Send the tasks one by one so only that task fails.
      for (const task of batch) {
        const one = encodeRun();
        appendRun(one, task.id, task.fn.id, runFlags(task), task.arg);
        try {
          this.port.postMessage(one, task.transferList as Transferable[] | undefined);
          this.accept(task);
        } catch (error) {
          failures.push({ task, error });
        }
      }
    }
  }

  /** The task is on its way: number it in the stream the thread counts (see Slab.Started). */
  private accept(task: Task): void {
    this.given++;
    this.sent = (this.sent + 1) | 0;
    task.seq = this.sent;
  }

  private register(task: Task): void {
    const fn = task.fn;
    if (this.registered.has(fn.id)) return;
    this.registered.add(fn.id);
    this.port.postMessage(encodeRegister(fn.id, fn.filename, fn.name));
  }

  /** Post a control message (abort, forget). Ignored once the thread is gone. */
  post(message: unknown[]): void {
    if (this.exitCode !== undefined) return;
    this.port.postMessage(message);
  }

  /** Take messages the thread already sent but we have not handled (used when it exits). */
  drain(visit: (message: unknown[]) => void): void {
    for (
      let next = receiveMessageOnPort(this.port);
      next !== undefined;
      next = receiveMessageOnPort(this.port)
    ) {
      visit(next.message as unknown[]);
    }
  }

  /** How many tasks the thread took off its waiting list (mod 2^32). */
  startedCount(): number {
    return Atomics.load(this.slab, Slab.Started);
  }

  /** Ids of the tasks the thread is running (published before each starts, cleared after). */
  runningIds(): number[] {
    const ids: number[] = [];
    for (let i = Slab.Running; i < this.slab.length; i++) {
      const id = Atomics.load(this.slab, i);
      if (id !== 0) ids.push(id);
    }
    return ids;
  }

  /** Keep the process alive only while the thread has work, like a pending socket would. */
  setReferenced(referenced: boolean): void {
    // A thread being stopped keeps the process alive until it has exited: otherwise a pool
    // destroyed while its threads start could let the process end with close() unsettled.
    if (!referenced && this.exiting) return;
    if (this.referenced === referenced) return;
    this.referenced = referenced;
    if (referenced) {
      this.worker.ref();
      this.port.ref();
    } else {
      this.worker.unref();
      this.port.unref();
    }
  }

  /**
   * Stop the thread. A healthy idle thread is asked to close (its onThreadClose hooks run) and
   * is terminated only if it takes longer than `graceMs`; a stuck or crashed one is terminated.
   * Returns when it has exited.
   */
  stop(reason: string, graceful: boolean, graceMs: number): Promise<number> {
    if (!this.stopping) {
      this.stopping = true;
      this.exiting = true;
      this.stopReason = reason;
      this.setReferenced(true);
      if (this.exitCode === undefined) {
        if (graceful && this.ready && this.inFlight.size === 0) {
          this.port.postMessage(encodeClose());
          const deadline = setTimeout(() => void this.worker.terminate(), graceMs);
          deadline.unref();
          void this.exited.then(() => clearTimeout(deadline));
        } else {
          void this.worker.terminate();
        }
      }
    }
    return this.exited;
  }

  /** Tasks it may still be given before it is recycled (maxTasksPerThread); read by the dispatcher. */
  get remaining(): number {
    return this.maxTasks - this.given;
  }

  /**
   * Recycle the thread: it takes no more tasks from now on; the pool closes it gracefully once
   * the tasks it holds (running or sent ahead) have settled. False if it was already stopping.
   */
  retire(reason: string): boolean {
    if (this.exiting) return false;
    this.exiting = true;
    this.retiring = true;
    this.stopReason = reason;
    return true;
  }

  /** Event-loop utilization over the last one to two seconds (see {@link UtilizationWindow}). */
  utilization(): number {
    return this.window.read(this.worker.performance);
  }

  /** How error messages say it ended, when the pool did not stop it and no error is known. */
  describeExit(exitCode: number): string {
    return `exited with code ${exitCode}`;
  }
}

/** What {@link UtilizationWindow} reads: a Worker's `performance`, or a process's stand-in. */
export interface UtilizationSource {
  eventLoopUtilization(a?: EventLoopUtilization, b?: EventLoopUtilization): EventLoopUtilization;
}

/**
 * Event-loop utilization over the last one to two seconds. Two readings are kept so that
 * several readers (a dashboard, a load shedder) see the same window instead of each resetting
 * the other's baseline.
 */
export class UtilizationWindow {
  private base: EventLoopUtilization | undefined;
  private middle: EventLoopUtilization | undefined;

  read(performance: UtilizationSource): number {
    const now = performance.eventLoopUtilization();
    // Until a second has passed, the window starts when the thread did.
    this.base ??= { idle: 0, active: 0, utilization: 0 };
    const elapsed = (from: EventLoopUtilization) => now.idle + now.active - from.idle - from.active;
    if (this.middle && elapsed(this.middle) >= 1000) {
      this.base = this.middle;
      this.middle = now;
    } else if (!this.middle && elapsed(this.base) >= 1000) {
      this.middle = now;
    }
    return elapsed(this.base) > 0
      ? performance.eventLoopUtilization(now, this.base).utilization
      : 0;
  }
}

/** The RunFlag bits of a task as it goes on the wire (also used by process-thread.ts). */
export function runFlags(task: Task): number {
  let flags = task.kind === TaskKind.Spread ? RunFlag.Spread : 0;
  if (task.timeout !== undefined || task.signal !== undefined) flags |= RunFlag.FlushFirst;
  if (task.onProgress !== undefined) flags |= RunFlag.Progress;
  if (task.withContext) flags |= RunFlag.Context;
  if (task.stream !== undefined) flags |= task.stream.runFlags;
  return flags;
}
