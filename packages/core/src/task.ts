import type { Transferable } from 'node:worker_threads';
import type { FunctionRecord } from './function-table.js';
import type { Queueable } from './queue/task-queue.js';
import type { TaskStream } from './task-stream.js';
import type { Thread } from './thread.js';

/** What a task asks of its thread. */
export const TaskKind = {
  /** Call the function with the argument. */
  Call: 0,
  /** Call it with the argument array spread (pool.proxy()). */
  Spread: 1,
  /** Only load the module and check the export (pool.preload()); travels as Op.Check. */
  Check: 2,
  /** Call it and stream the async iterable it returns (pool.stream()); see RunFlag.Stream. */
  Stream: 3,
} as const;
export type TaskKind = (typeof TaskKind)[keyof typeof TaskKind];

/** One `run()` call, from acceptance until its promise settles. */
export class Task implements Queueable {
  /** The thread it was sent to, while it is there. */
  thread: Thread | undefined;
  /** Its position in the stream of tasks sent to `thread` (Int32, wraps; see dispatcher.ts). */
  seq = 0;
  timer: NodeJS.Timeout | undefined;
  queueTimer: NodeJS.Timeout | undefined;
  /** True once the caller's promise was settled (a timed-out task may still occupy its thread). */
  settled = false;
  /** Managed by TaskQueue. */
  queued = false;
  /** It came back from a thread that died before starting it: it is never sent ahead again. */
  requeued = false;
  /** The caller's `onProgress`: set, the thread sends the task's progress reports. */
  onProgress: ((value: unknown) => void) | undefined;
  /** It must run on the thread it was sent to (pool.broadcast()): never re-queued elsewhere. */
  pinned = false;
  /**
   * Its `arg` is `[arg, ...context]` (see RunFlag.Context): the caller's trace context or carried
   * AsyncLocalStorage values travel with it (context.ts).
   */
  withContext = false;
  /** pool.stream(): where its yielded values go, and its Run flags (RunFlag.Stream, window). */
  stream: TaskStream<unknown, unknown> | undefined = undefined;

  constructor(
    readonly id: number,
    readonly fn: FunctionRecord,
    readonly kind: TaskKind,
    readonly arg: unknown,
    readonly transferList: readonly Transferable[] | undefined,
    readonly priority: number,
    readonly timeout: number | undefined,
    readonly queueTimeout: number | undefined,
    readonly signal: AbortSignal | undefined,
    readonly submittedAt: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (reason: unknown) => void,
  ) {}

  /**
   * Tasks that must start exactly when sent (so their timer, abort grace or queue bound is
   * fair), checks, and tasks that already came back once are not batched ahead.
   */
  get batchable(): boolean {
    return (
      this.timeout === undefined &&
      this.signal === undefined &&
      this.queueTimeout === undefined &&
      // Checks and streams (a stream holds its slot until its consumer is done) are placed fairly.
      this.kind < TaskKind.Check &&
      !this.requeued
    );
  }
}
