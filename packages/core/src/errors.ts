/**
 * Every error the pool itself raises is an {@link OffThreadError} with one of these codes.
 * Errors thrown by your task code are passed through unchanged (same class, message, cause,
 * own properties), not wrapped.
 */
export const OffThreadErrorCode = {
  /** `maxQueue` tasks are already waiting. Shed load, retry later, or raise `maxQueue`. */
  QUEUE_FULL: 'ERR_OFFTHREAD_QUEUE_FULL',
  /** The task ran longer than its `timeout` (or the pool's `taskTimeout`); its thread was stopped. */
  TIMEOUT: 'ERR_OFFTHREAD_TIMEOUT',
  /**
   * The task's `signal` was aborted. Like Node's own APIs, the error's `name` is 'AbortError'
   * and `cause` holds the signal's reason; it is still an OffThreadError.
   */
  ABORTED: 'ERR_OFFTHREAD_ABORTED',
  /**
   * The task waited in the queue longer than its `queueTimeout` and never started, so it is
   * safe to retry (an HTTP adapter answers 503 with Retry-After).
   */
  QUEUE_TIMEOUT: 'ERR_OFFTHREAD_QUEUE_TIMEOUT',
  /** The thread running the task exited (process.exit, uncaught exception, terminate). */
  WORKER_EXIT: 'ERR_OFFTHREAD_WORKER_EXIT',
  /** The thread or the task module failed to start or load. `cause` holds the original error. */
  WORKER_INIT: 'ERR_OFFTHREAD_WORKER_INIT',
  /** The thread ran out of memory under its `resourceLimits`. */
  OUT_OF_MEMORY: 'ERR_OFFTHREAD_OUT_OF_MEMORY',
  /**
   * The task finished, but its thread was killed (out of memory, or terminated because another
   * task in it timed out or ignored its abort) before its result could be sent back. The task
   * ran once and is never re-run; whether its effects happened is unknown to the pool.
   */
  RESULT_LOST: 'ERR_OFFTHREAD_RESULT_LOST',
  /** The pool was closed or destroyed before the task could finish. */
  POOL_CLOSED: 'ERR_OFFTHREAD_POOL_CLOSED',
  /** The task module has no export with the requested name, or it is not a function. */
  TASK_NOT_FOUND: 'ERR_OFFTHREAD_TASK_NOT_FOUND',
  /** The argument or the result could not be copied between threads (structured clone). */
  UNCLONEABLE: 'ERR_OFFTHREAD_UNCLONEABLE',
  /**
   * `pool.stream()` called a task that returned something other than an async iterable. Write
   * the task as an `async function*` (or return a Readable), or call it with `pool.run()`.
   */
  NOT_ITERABLE: 'ERR_OFFTHREAD_NOT_ITERABLE',
} as const;

export type OffThreadErrorCode = (typeof OffThreadErrorCode)[keyof typeof OffThreadErrorCode];

/** Extra details some errors carry, e.g. the task name and file, or the exit code. */
export interface OffThreadErrorDetails {
  cause?: unknown;
  /** The export that was called. */
  task?: string;
  /** The task module's path. */
  filename?: string;
  /** The thread's exit code, for ERR_OFFTHREAD_WORKER_EXIT. */
  exitCode?: number;
  /** The timeout that expired, in ms, for ERR_OFFTHREAD_TIMEOUT. */
  timeout?: number;
}

/** The one error class of offthread. Switch on `code`, never on the message. */
export class OffThreadError extends Error {
  override name = 'OffThreadError';
  readonly code: OffThreadErrorCode;
  declare task?: string;
  declare filename?: string;
  declare exitCode?: number;
  declare timeout?: number;

  constructor(code: OffThreadErrorCode, message: string, details: OffThreadErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.task !== undefined) this.task = details.task;
    if (details.filename !== undefined) this.filename = details.filename;
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
    if (details.timeout !== undefined) this.timeout = details.timeout;
  }
}

/** Is `error` an OffThreadError, optionally with the given code? Works across package copies. */
export function isOffThreadError(
  error: unknown,
  code?: OffThreadErrorCode,
): error is OffThreadError {
  try {
    if (!(error instanceof Error)) return false;
    const c = (error as { code?: unknown }).code;
    if (
      !(error instanceof OffThreadError) &&
      !(typeof c === 'string' && c.startsWith('ERR_OFFTHREAD_'))
    )
      return false;
    return code === undefined || c === code;
  } catch {
    // A getter or a Proxy trap that throws: whatever this is, it is not one of ours.
    return false;
  }
}

/**
 * The error a task rejects with when its signal is aborted, shaped like Node's own abort errors
 * (`name` 'AbortError', `cause` the signal's reason) so generic `error.name === 'AbortError'`
 * checks work, while `code` stays ERR_OFFTHREAD_ABORTED and it is an {@link OffThreadError}.
 *
 * @param reason the signal's `reason` (kept as `cause`)
 */
export function abortedError(reason: unknown): OffThreadError {
  const error = new OffThreadError(
    OffThreadErrorCode.ABORTED,
    'The task was aborted by its signal',
    { cause: reason },
  );
  error.name = 'AbortError';
  return error;
}
