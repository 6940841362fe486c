/**
 * The pool's handle on one child process (pool option `runtime: 'process'`), with the interface
 * of a thread's handle (thread.ts WorkerThread) so the pool's lifecycle and fault code is the
 * same for both. The child runs process-entry.ts, which runs the thread runtime unchanged.
 *
 * At most once, without shared memory. A thread publishes the id of the task it starts in a
 * SharedArrayBuffer that the pool reads after the thread died; processes cannot share one. So a
 * process is never sent more tasks than it runs at once (`concurrentTasksPerWorker`, 1 by
 * default): tasks the pool sends ahead wait here, in order, and are written to the child only
 * when it has a free slot. The pool then knows exactly, from what it wrote and what came back:
 * - written and unanswered: the child may be running it; if the child dies, it fails (with the
 *   exit code or signal) and is never re-run;
 * - still waiting here: it never reached the child and runs elsewhere, once.
 * The price: a task written to a child that dies in the instant before starting it fails instead
 * of running elsewhere, and tasks are not batched into one message (one IPC write per task).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { constants } from 'node:os';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { deserializeError, type SerializedError, serializeError } from './error-serialization.js';
import { OffThreadError, OffThreadErrorCode } from './errors.js';
import { resourceLimitFlags } from './process-options.js';
import { type ProcessInit, ProcessOp } from './process-protocol.js';
import {
  appendResult,
  appendRun,
  decodeResults,
  decodeSubject,
  encodeCheck,
  encodeClose,
  encodeRegister,
  encodeResults,
  encodeRun,
  Op,
  Status,
} from './protocol.js';
import { type Task, TaskKind } from './task.js';
import {
  type PostFailure,
  runFlags,
  type ThreadSpawnOptions,
  type UtilizationSource,
  UtilizationWindow,
} from './thread.js';

/** Each build (ESM index.js, CJS index.cjs) starts the child entry of its own format, beside it in dist/. */
const here = import.meta.url;
const processEntryPath = fileURLToPath(
  new URL(here.endsWith('.cjs') ? './process-entry.cjs' : './process-entry.js', here),
);

/** How long to wait, after a child exited, for the IPC messages it sent before (ms). */
const DISCONNECT_WAIT_MS = 1000;

/** What `thread.worker` is for a process: its pid stands in for a thread id. */
export interface ProcessWorker {
  /** The child's pid (what `threadStart`, `threadExit` and broadcast results report). */
  readonly threadId: number;
  readonly pid: number;
  /**
   * Busy share seen from the pool: time with a task written and unanswered, not the child's
   * own event loop (reading that would cost a message per sample).
   */
  readonly performance: UtilizationSource;
}

/** The pool's handle on one child process; see the file comment for the at-most-once rule. */
export class ProcessThread {
  readonly runtime = 'process' as const;
  /** What error messages call it. */
  readonly label: string;
  /** Tasks sent to the process and not yet reported back, in the order they were sent. */
  readonly inFlight = new Map<number, Task>();
  /** Task functions this process already knows (see Op.Register). */
  readonly registered = new Set<number>();
  /** Tasks accepted so far (Int32, wraps); see {@link startedCount}. */
  sent = 0;
  ready = false;
  /** Set once we decided to stop (or recycle) it; it takes no more tasks. */
  exiting = false;
  retiring = false;
  /** Tasks given to it since it started (checks included). */
  given = 0;
  stopReason: string | undefined;
  /** The uncaught error that brought the process down (reported by the child), if any. */
  crashError: Error | undefined;
  /** Set when the process has exited: its code, or 128 + the signal's number. */
  exitCode: number | undefined;
  /** The signal that ended the process (SIGABRT for process.abort(), SIGSEGV...), if one did. */
  signal: NodeJS.Signals | undefined;
  /** Settles when the process has exited and its last messages were handled; never rejects. */
  readonly exited: Promise<number>;
  lastActive = 0;
  readonly worker: ProcessWorker;
  /** The pool closes a dead thread's port; for a process that lets go of the IPC channel. */
  readonly port: { close(): void };
  private stopping = false;
  private referenced = true;
  /** Init was sent: writes go straight to the child from now on. */
  private initialized = false;
  /** The child is gone (or going): nothing more is written. */
  private dead = false;
  /** Messages and tasks not written yet, in the order the pool sent them. */
  private outbox: (unknown[] | Task | undefined)[] = [];
  private outboxHead = 0;
  /** Ids of tasks written to the child and not answered: the child may be running them. */
  private readonly written = new Set<number>();
  /** Tasks taken off the outbox, in order (Int32, wraps); the pool's blame reads it. */
  private taken = 0;
  private readonly concurrency: number;
  private readonly maxTasks: number;
  private readonly window = new UtilizationWindow();
  /** Busy time (ms) of finished busy periods, and when the current one began (-1: idle). */
  private busyTotal = 0;
  private busySince = -1;
  private readonly bornAt = performance.now();

  private constructor(
    readonly id: number,
    private readonly child: ChildProcess,
    options: ThreadSpawnOptions,
    private readonly onMessage: (thread: ProcessThread, message: unknown[]) => void,
  ) {
    this.concurrency = options.concurrency;
    this.maxTasks = options.maxTasks;
    const pid = child.pid ?? -id;
    this.label = `child process (pid ${pid})`;
    this.worker = { threadId: pid, pid, performance: { eventLoopUtilization: this.elu } };
    this.port = { close: () => this.disconnect() };
    this.exited = new Promise((resolve) => {
      let code: number | undefined;
      let disconnected = !child.connected;
      const settle = () => {
        if (code === undefined || !disconnected || this.exitCode !== undefined) return;
        this.exitCode = code;
        resolve(code);
      };
      child.once('exit', (exitCode, signal) => {
        this.dead = true;
        this.endBusy();
        this.signal = signal ?? undefined;
        code = exitCode ?? 128 + ((signal && constants.signals[signal]) || 0);
        // Messages the child sent before it died may still be on their way: they are
        // delivered before 'disconnect', and count (results, crash report).
        if (child.connected) {
          setTimeout(() => {
            disconnected = true;
            settle();
          }, DISCONNECT_WAIT_MS).unref();
        } else disconnected = true;
        settle();
      });
      child.once('disconnect', () => {
        disconnected = true;
        settle();
      });
      child.on('error', (error) => {
        // Only a failed spawn says why the child ended; other errors here are about sending or
        // signalling a child that is already going, and its exit tells the story.
        if (child.pid === undefined && code === undefined) {
          // It never started: there will be no 'exit'.
          this.crashError ??= error;
          this.dead = true;
          code = 1;
          disconnected = true;
          settle();
        }
      });
    });
  }

  /**
   * Start a child process. Throws what `fork()` throws synchronously; a child that cannot start
   * (a bad execArgv flag, a missing node) exits before it is ready, which the pool treats as a
   * failed start. `onMessage` gets the runtime's messages; `onExit` runs once when it exited.
   */
  static spawn(
    options: ThreadSpawnOptions,
    onMessage: (thread: ProcessThread, message: unknown[]) => void,
    onExit: (thread: ProcessThread, exitCode: number) => void,
  ): ProcessThread {
    const child = fork(processEntryPath, [], {
      execArgv: [
        ...(options.execArgv ?? process.execArgv),
        ...resourceLimitFlags(options.resourceLimits),
      ],
      env: options.env ?? process.env,
      // Structured clone, as between threads: Map, Set, Date, typed arrays, errors, cycles.
      serialization: 'advanced',
      // Output goes straight to the pool process's own stdout and stderr.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const thread = new ProcessThread(options.id, child, options, onMessage);
    const init: ProcessInit = {
      concurrency: options.concurrency,
      poolName: options.poolName,
      user: options.workerData,
      heapLimitBytes: Number.isFinite(options.maxHeapMb)
        ? Math.ceil(options.maxHeapMb * 1024 * 1024)
        : 0,
    };
    child.on('message', (message: unknown[]) => thread.receive(message, init));
    void thread.exited.then((code) => onExit(thread, code));
    return thread;
  }

  private receive(message: unknown[], init: ProcessInit): void {
    const op = message[0];
    if (op === ProcessOp.Hello) {
      if (this.initialized || this.dead) return;
      this.initialized = true;
      if (this.write([ProcessOp.Init, init])) this.pump();
      return;
    }
    if (op === ProcessOp.Crash) {
      try {
        this.crashError ??= deserializeError(message[1] as SerializedError) as Error;
      } catch {
        this.crashError ??= new Error(
          'The child process crashed with an error that could not be rebuilt',
        );
      }
      return;
    }
    if (op === Op.Results) {
      decodeResults(message, (id) => {
        if (this.written.delete(id) && this.written.size === 0) this.endBusy();
      });
    }
    this.onMessage(this, message);
    this.pump();
  }

  /**
   * Accept tasks (checks included), in order. Those that fit the child's free slots are written
   * now; the others wait here (see the file comment). Returns the tasks whose argument could not
   * be sent; a task that turns out uncloneable later fails with ERR_OFFTHREAD_UNCLONEABLE.
   */
  send(tasks: readonly Task[]): PostFailure[] {
    for (const task of tasks) {
      const fn = task.fn;
      if (!this.registered.has(fn.id)) {
        this.registered.add(fn.id);
        this.outbox.push(encodeRegister(fn.id, fn.filename, fn.name));
      }
      this.given++;
      this.sent = (this.sent + 1) | 0;
      task.seq = this.sent;
      this.outbox.push(task);
    }
    const failures: PostFailure[] = [];
    this.pump(failures);
    return failures;
  }

  /**
   * A control message. An abort of a task still waiting here is answered here (the child never
   * sees the task); other messages keep their place after the tasks sent before them.
   */
  post(message: unknown[]): void {
    if (this.dead) return;
    if (message[0] === Op.Abort) {
      const id = decodeSubject(message);
      if (this.written.has(id)) {
        this.write(message);
      } else {
        // Answered soon, so the pool's abortGracePeriod never kills the process for a task
        // that is not in it; it stays in the outbox, in order, and is skipped there.
        const task = this.inFlight.get(id);
        if (task !== undefined) queueMicrotask(() => this.answer(task, undefined));
      }
      return;
    }
    // A Forget keeps its place behind the tasks of that function sent before it (they still
    // fail with TASK_NOT_FOUND there); anything else (a stream's credit...) is about tasks the
    // child has, and must not wait behind tasks waiting here for a free slot.
    if (message[0] === Op.Forget || !this.initialized) {
      this.outbox.push(message);
      this.pump();
    } else {
      this.write(message);
    }
  }

  /** Write what fits: control messages in order, tasks while the child has a free slot. */
  private pump(failures?: PostFailure[]): void {
    if (!this.initialized || this.dead) return;
    while (this.outboxHead < this.outbox.length) {
      const entry = this.outbox[this.outboxHead] as unknown[] | Task;
      const isTask = !Array.isArray(entry);
      if (isTask && this.written.size >= this.concurrency) break;
      // Taken entries are cleared so a long-busy process does not keep settled tasks alive.
      this.outbox[this.outboxHead++] = undefined;
      if (!isTask) {
        this.write(entry);
        continue;
      }
      this.taken = (this.taken + 1) | 0;
      const task = entry;
      // Aborted or timed out while it waited here: it never runs.
      if (task.settled) {
        queueMicrotask(() => this.answer(task, undefined));
        continue;
      }
      let message: unknown[];
      if (task.kind === TaskKind.Check) message = encodeCheck(task.id, task.fn.id);
      else {
        message = encodeRun();
        appendRun(message, task.id, task.fn.id, runFlags(task), task.arg);
      }
      try {
        this.child.send(message);
      } catch (error) {
        if (failures) failures.push({ task, error });
        else queueMicrotask(() => this.answer(task, uncloneable(error)));
        continue;
      }
      if (this.written.size === 0) this.busySince = performance.now();
      this.written.add(task.id);
    }
    if (this.outboxHead === this.outbox.length) {
      this.outbox = [];
      this.outboxHead = 0;
    } else if (this.outboxHead >= 1024) {
      // Never empty under steady load: drop the taken part now and then.
      this.outbox = this.outbox.slice(this.outboxHead);
      this.outboxHead = 0;
    }
  }

  /** Answer for a task the child never got, as the runtime would: the pool removes it. */
  private answer(task: Task, error: unknown): void {
    if (!this.inFlight.has(task.id) || this.exitCode !== undefined) return;
    const message = encodeResults();
    appendResult(
      message,
      task.id,
      Status.Error,
      serializeError(
        error ??
          new OffThreadError(OffThreadErrorCode.ABORTED, 'The task was aborted before it started'),
      ),
      0,
    );
    this.onMessage(this, message);
    this.pump();
  }

  private write(message: unknown[]): boolean {
    if (this.dead || !this.child.connected) return false;
    try {
      this.child.send(message);
      return true;
    } catch (error) {
      // Only a task's argument can fail to clone, and tasks are handled in pump().
      this.crashError ??= error as Error;
      void this.stop(`it could not be sent a message: ${(error as Error)?.message}`, false, 0);
      return false;
    }
  }

  /** Messages arrive as events; nothing is ever waiting to be read synchronously. */
  drain(_visit: (message: unknown[]) => void): void {}

  /** Tasks taken off the waiting list here, in order (mod 2^32): see dispatcher.ts blame. */
  startedCount(): number {
    return this.taken;
  }

  /** Tasks written to the child and not answered: the child may be running them. */
  runningIds(): number[] {
    return [...this.written];
  }

  /** Keep the pool's process alive only while the child has work. */
  setReferenced(referenced: boolean): void {
    if (!referenced && this.exiting) return;
    if (this.referenced === referenced) return;
    this.referenced = referenced;
    const channel = this.child.channel as { ref?(): void; unref?(): void } | null | undefined;
    if (referenced) {
      this.child.ref();
      channel?.ref?.();
    } else {
      this.child.unref();
      channel?.unref?.();
    }
  }

  /**
   * Stop the process. A healthy idle one is asked to close (its onThreadClose hooks run) and is
   * killed only if it takes longer than `graceMs`; a busy, stuck or crashed one is killed with
   * SIGKILL (the only signal task code cannot catch). Returns when it has exited.
   */
  stop(reason: string, graceful: boolean, graceMs: number): Promise<number> {
    if (!this.stopping) {
      this.stopping = true;
      this.exiting = true;
      this.stopReason = reason;
      this.setReferenced(true);
      if (!this.dead) {
        if (graceful && this.ready && this.inFlight.size === 0 && this.initialized) {
          this.pump();
          this.write(encodeClose());
          const deadline = setTimeout(() => this.kill(), graceMs);
          deadline.unref();
          void this.exited.then(() => clearTimeout(deadline));
        } else {
          this.kill();
        }
      }
    }
    return this.exited;
  }

  private kill(): void {
    if (
      this.exitCode !== undefined ||
      this.child.exitCode !== null ||
      this.child.signalCode !== null
    )
      return;
    this.child.kill('SIGKILL');
  }

  private disconnect(): void {
    if (this.child.connected) this.child.disconnect();
  }

  /** Tasks it may still be given before it is recycled (maxTasksPerThread). */
  get remaining(): number {
    return this.maxTasks - this.given;
  }

  retire(reason: string): boolean {
    if (this.exiting) return false;
    this.exiting = true;
    this.retiring = true;
    this.stopReason = reason;
    return true;
  }

  /** Busy share over the last one to two seconds, as seen from the pool (see {@link ProcessWorker}). */
  utilization(): number {
    return this.window.read(this.worker.performance);
  }

  describeExit(exitCode: number): string {
    return this.signal === undefined
      ? `exited with code ${exitCode}`
      : `was killed by signal ${this.signal} (exit code ${exitCode})`;
  }

  private endBusy(): void {
    if (this.busySince < 0) return;
    this.busyTotal += performance.now() - this.busySince;
    this.busySince = -1;
  }

  /** Worker#performance.eventLoopUtilization's shape, from busy time. */
  private readonly elu = (
    a?: EventLoopUtilization,
    b?: EventLoopUtilization,
  ): EventLoopUtilization => {
    if (a !== undefined && b !== undefined) return diff(a, b);
    const now = performance.now();
    const active = this.busyTotal + (this.busySince < 0 ? 0 : now - this.busySince);
    const idle = Math.max(0, now - this.bornAt - active);
    const reading = { idle, active, utilization: active + idle > 0 ? active / (active + idle) : 0 };
    return a === undefined ? reading : diff(reading, a);
  };
}

function diff(a: EventLoopUtilization, b: EventLoopUtilization): EventLoopUtilization {
  const idle = a.idle - b.idle;
  const active = a.active - b.active;
  return { idle, active, utilization: idle + active > 0 ? active / (idle + active) : 0 };
}

function uncloneable(cause: unknown): OffThreadError {
  return new OffThreadError(
    OffThreadErrorCode.UNCLONEABLE,
    `The task argument could not be sent to a child process: ${(cause as Error)?.message}. Pass plain data (objects, arrays, strings, numbers, typed arrays, Map, Set, Date), not functions, class instances with methods, sockets or streams.`,
    { cause },
  );
}
