import {
  OffThreadError,
  type OffThreadErrorCode,
  type OffThreadErrorDetails,
} from '@offthread/core';

/**
 * Codes only a remote pool raises. They are carried by the core's {@link OffThreadError} class,
 * so `isOffThreadError(error)` and `error.code` work the same for local and remote pools. Every
 * other failure uses the core's codes (ERR_OFFTHREAD_TIMEOUT, _ABORTED, _WORKER_EXIT, ...).
 */
export const RemoteErrorCode = {
  /**
   * Redis is down or unreachable: the call was not enqueued, or the connection dropped while it
   * was in flight (it may or may not have run). Calls work again once Redis is back; nothing is
   * buffered meanwhile.
   */
  REDIS_UNAVAILABLE: 'ERR_OFFTHREAD_REDIS_UNAVAILABLE',
  /** The encoded argument is larger than `maxPayloadSize`. Nothing was enqueued. */
  PAYLOAD_TOO_LARGE: 'ERR_OFFTHREAD_PAYLOAD_TOO_LARGE',
  /**
   * The worker's copy of the task module differs from the caller's (content hash, or package
   * version for adapter entries), or it has none. Deploy the same build to callers and workers.
   */
  MODULE_MISMATCH: 'ERR_OFFTHREAD_MODULE_MISMATCH',
  /** The task module is not under `root` (caller side), or a job named a path outside the worker's `root`. */
  OUTSIDE_ROOT: 'ERR_OFFTHREAD_OUTSIDE_ROOT',
  /**
   * The task waited in the queue longer than its `queueTimeout`, and was removed unrun. The same
   * code as a local pool's queue timeout.
   */
  QUEUE_TIMEOUT: 'ERR_OFFTHREAD_QUEUE_TIMEOUT',
} as const;

export type RemoteErrorCode = (typeof RemoteErrorCode)[keyof typeof RemoteErrorCode];

/** An OffThreadError with one of the core's codes or a {@link RemoteErrorCode}. */
export function offThreadError(
  code: OffThreadErrorCode | RemoteErrorCode,
  message: string,
  details?: OffThreadErrorDetails,
): OffThreadError {
  // The core's constructor is typed with its own codes; the class is the same for ours.
  return new OffThreadError(code as OffThreadErrorCode, message, details);
}

/**
 * Is `error` an OffThreadError, optionally with the given code? Like the core's
 * `isOffThreadError`, but also typed for the {@link RemoteErrorCode} codes.
 */
export function isRemotePoolError(
  error: unknown,
  code?: OffThreadErrorCode | RemoteErrorCode,
): error is OffThreadError & { code: OffThreadErrorCode | RemoteErrorCode } {
  if (!(error instanceof Error)) return false;
  const c = (error as { code?: unknown }).code;
  if (typeof c !== 'string' || !c.startsWith('ERR_OFFTHREAD_')) return false;
  return code === undefined || c === code;
}
