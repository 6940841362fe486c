/**
 * The wire format between the pool and its threads. Messages are flat arrays (cheaper to
 * clone than objects with keys) whose first element says what they are. Runs and results are
 * batched: one message can carry many tasks, which is what makes tiny tasks cheap.
 *
 * Only this file knows the slot layout: both sides build and read messages through the
 * encode/decode functions below. Control information (preload checks, aborts, close) always
 * travels as its own op, never inside an export name: names are matched literally.
 */
import type { MessagePort } from 'node:worker_threads';

export const Op = {
  /** main -> worker: [Run, id, fnId, flags, arg, id, fnId, ...] (see {@link RunFlag}). */
  Run: 0,
  /** main -> worker: [Register, fnId, filename, exportName]: sent once per thread per function. */
  Register: 1,
  /** main -> worker: [Abort, id, timedOut(0|1)]: abort the task's signal. */
  Abort: 2,
  /** worker -> main: [Ready] once the thread can take tasks. */
  Ready: 3,
  /** worker -> main: [Results, id, status, value, runTimeMs, id, ...] */
  Results: 4,
  /** main -> worker: [Close]: run the onThreadClose hooks, then exit. */
  Close: 5,
  /** main -> worker: [Check, id, fnId]: load the module and check the export (pool.preload()). */
  Check: 6,
  /** main -> worker: [Forget, fnId]: drop a function record (its export does not exist). */
  Forget: 7,
  /**
   * worker -> main: [HeapHigh, heapUsedBytes]: the thread's heap passed the pool's
   * maxThreadHeapMb; sent at most once per thread, and only when the option is set.
   */
  HeapHigh: 8,
  /** worker -> main: [Progress, id, value]: a task's progress report (only if RunFlag.Progress). */
  Progress: 9,
  /**
   * worker -> main: [Yield, id, value]: one value a stream task (RunFlag.Stream) yielded. Sent
   * only while the task holds credit; its outcome (return value or error) follows as a result.
   */
  Yield: 10,
  /** main -> worker: [Credit, id, n]: the consumer of a stream task took `n` more values. */
  Credit: 11,
} as const;

/** Bits of a Run tuple's flags slot. */
export const RunFlag = {
  /** The argument is an array of arguments to spread (pool.proxy()). */
  Spread: 1,
  /**
   * Send every buffered result before starting this task: it has a timeout or a signal, so its
   * thread may be terminated while it runs, and results of finished tasks must not die with it.
   */
  FlushFirst: 2,
  /** The caller listens to progress (run()'s onProgress): send the task's progress reports. */
  Progress: 4,
  /**
   * The arg slot holds `[arg, ...context]` (context.ts ContextCarrier): the caller's trace context
   * and carried values, which the thread restores around the call (context-thread.ts).
   */
  Context: 8,
  /**
   * pool.stream(): the function returns an async iterable; the thread pulls it and sends each
   * value as Op.Yield while it holds credit. The initial credit (the stream's window) is in the
   * flags' bits from {@link STREAM_WINDOW_SHIFT} up; Op.Credit adds more.
   */
  Stream: 16,
} as const;

/** The window of a stream task sits in its Run flags from this bit up (see RunFlag.Stream). */
export const STREAM_WINDOW_SHIFT = 8;

/** Run flags for a stream task with this window (values the thread may send ahead). */
export function streamRunFlags(window: number): number {
  return RunFlag.Stream | RunFlag.FlushFirst | (window << STREAM_WINDOW_SHIFT);
}

/** The window (initial credit) of a stream task's Run flags. */
export function streamWindow(flags: number): number {
  return flags >>> STREAM_WINDOW_SHIFT;
}

/** Why a task's signal is aborted: the third slot of an Abort message. */
export const AbortCause = {
  /** The caller's signal. */
  Signal: 0,
  /** Its timeout passed. */
  Timeout: 1,
  /** The consumer of a stream stopped reading (iterator.return()): end it quietly. */
  StreamClosed: 2,
} as const;

/** How long a thread may take over its onThreadClose hooks before it is terminated (ms). */
export const CLOSE_GRACE_MS = 2000;

const RUN_STRIDE = 4;
const RESULT_STRIDE = 4;

export const Status = { Ok: 0, Error: 1 } as const;

/**
 * Layout of the per-thread SharedArrayBuffer through which a thread publishes what it runs, so
 * that when it dies the pool knows exactly which tasks had started (see dispatcher.ts `blame`).
 * Int32 slots written with Atomics.store by the thread, read by the pool after the thread exited.
 */
export const Slab = {
  /** How many tasks the thread has taken off its waiting list (wraps at 2^32, compared mod 2^32). */
  Started: 0,
  /** First of `concurrency` slots holding the id of a running task (0 = empty). */
  Running: 1,
} as const;

/** Bytes of the slab for a thread that runs `concurrency` tasks at once. */
export function slabBytes(concurrency: number): number {
  return (Slab.Running + concurrency) * Int32Array.BYTES_PER_ELEMENT;
}

/** What the runtime receives as `workerData`; the user's own workerData is under `user`. */
export interface RuntimeData {
  port: MessagePort;
  concurrency: number;
  poolName: string;
  user: unknown;
  /** See {@link Slab}. */
  slab: SharedArrayBuffer;
  /** Report Op.HeapHigh past this many bytes of heap in use; 0 = do not measure. */
  heapLimitBytes: number;
}

export const kRuntimeData = '__offthread';

// ---- main -> worker --------------------------------------------------------------------------

/** One task as it goes on the wire. */
export interface RunTuple {
  id: number;
  fnId: number;
  flags: number;
  arg: unknown;
}

/** Start a Run message; add tasks with {@link appendRun}. */
export function encodeRun(): unknown[] {
  return [Op.Run];
}

export function appendRun(
  message: unknown[],
  id: number,
  fnId: number,
  flags: number,
  arg: unknown,
): void {
  message.push(id, fnId, flags, arg);
}

/** Call `visit` for each task of a Run message, in order. */
export function decodeRun(
  message: readonly unknown[],
  visit: (id: number, fnId: number, flags: number, arg: unknown) => void,
): void {
  for (let i = 1; i < message.length; i += RUN_STRIDE) {
    visit(message[i] as number, message[i + 1] as number, message[i + 2] as number, message[i + 3]);
  }
}

export function encodeRegister(fnId: number, filename: string, name: string): unknown[] {
  return [Op.Register, fnId, filename, name];
}

export function decodeRegister(message: readonly unknown[]): {
  fnId: number;
  filename: string;
  name: string;
} {
  return {
    fnId: message[1] as number,
    filename: message[2] as string,
    name: message[3] as string,
  };
}

export function encodeCheck(id: number, fnId: number): unknown[] {
  return [Op.Check, id, fnId];
}

export function decodeCheck(message: readonly unknown[]): { id: number; fnId: number } {
  return { id: message[1] as number, fnId: message[2] as number };
}

export function encodeAbort(id: number, timedOut: boolean): unknown[] {
  return [Op.Abort, id, timedOut ? AbortCause.Timeout : AbortCause.Signal];
}

/** Abort a stream task because its consumer stopped reading (see AbortCause.StreamClosed). */
export function encodeStreamClose(id: number): unknown[] {
  return [Op.Abort, id, AbortCause.StreamClosed];
}

/** Did the pool abort the task because its timeout passed (rather than its caller's signal)? */
export function decodeAbortTimedOut(message: readonly unknown[]): boolean {
  return message[2] === AbortCause.Timeout;
}

/** Why the pool aborted the task ({@link AbortCause}). */
export function decodeAbortCause(message: readonly unknown[]): number {
  return message[2] as number;
}

export function encodeCredit(id: number, n: number): unknown[] {
  return [Op.Credit, id, n];
}

export function decodeCredit(message: readonly unknown[]): { id: number; n: number } {
  return { id: message[1] as number, n: message[2] as number };
}

export function encodeForget(fnId: number): unknown[] {
  return [Op.Forget, fnId];
}

/** The id carried by an Abort message or the fnId of a Forget message. */
export function decodeSubject(message: readonly unknown[]): number {
  return message[1] as number;
}

export function encodeClose(): unknown[] {
  return [Op.Close];
}

// ---- worker -> main --------------------------------------------------------------------------

export function encodeProgress(id: number, value: unknown): unknown[] {
  return [Op.Progress, id, value];
}

export function decodeProgress(message: readonly unknown[]): { id: number; value: unknown } {
  return { id: message[1] as number, value: message[2] };
}

export function encodeYield(id: number, value: unknown): unknown[] {
  return [Op.Yield, id, value];
}

export function decodeYield(message: readonly unknown[]): { id: number; value: unknown } {
  return { id: message[1] as number, value: message[2] };
}

export function encodeHeapHigh(heapUsedBytes: number): unknown[] {
  return [Op.HeapHigh, heapUsedBytes];
}

export function decodeHeapHigh(message: readonly unknown[]): number {
  return message[1] as number;
}

export function encodeReady(): unknown[] {
  return [Op.Ready];
}

/** Start a Results message; add results with {@link appendResult}. */
export function encodeResults(): unknown[] {
  return [Op.Results];
}

export function appendResult(
  message: unknown[],
  id: number,
  status: number,
  value: unknown,
  runTime: number,
): void {
  message.push(id, status, value, runTime);
}

/** Number of results in a Results message. */
export function resultCount(message: readonly unknown[]): number {
  return (message.length - 1) / RESULT_STRIDE;
}

/** A Results message holding only the `index`-th result of `message`. */
export function singleResult(message: readonly unknown[], index: number): unknown[] {
  const at = 1 + index * RESULT_STRIDE;
  return [Op.Results, message[at], message[at + 1], message[at + 2], message[at + 3]];
}

/** The `index`-th result of a Results message. */
export function resultAt(
  message: readonly unknown[],
  index: number,
): { id: number; status: number; value: unknown; runTime: number } {
  const at = 1 + index * RESULT_STRIDE;
  return {
    id: message[at] as number,
    status: message[at + 1] as number,
    value: message[at + 2],
    runTime: message[at + 3] as number,
  };
}

/** Call `visit` for each result of a Results message, in order. */
export function decodeResults(
  message: readonly unknown[],
  visit: (id: number, status: number, value: unknown, runTime: number) => void,
): void {
  for (let i = 1; i < message.length; i += RESULT_STRIDE) {
    visit(message[i] as number, message[i + 1] as number, message[i + 2], message[i + 3] as number);
  }
}
