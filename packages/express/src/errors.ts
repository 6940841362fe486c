import { isOffThreadError, OffThreadErrorCode } from '@offthread/core';

/** HTTP fields set on errors passed to `next(err)`, as http-errors and finalhandler expect them. */
export interface HttpErrorFields {
  status: number;
  statusCode: number;
  expose: boolean;
  headers?: Record<string, string>;
}

/** What an error from the pool means over HTTP; `undefined` for errors thrown by the handler. */
export function poolErrorStatus(error: unknown): { status: number; overload: boolean } | undefined {
  if (!isOffThreadError(error)) return undefined;
  switch (error.code) {
    case OffThreadErrorCode.QUEUE_FULL:
    case OffThreadErrorCode.TIMEOUT:
    case OffThreadErrorCode.POOL_CLOSED:
      return { status: 503, overload: true };
    default:
      return { status: 500, overload: false };
  }
}

/**
 * Give an error HTTP fields without clobbering ones it has. Errors of the handler keep their own
 * `status`; a pool error that carries one (a handler may throw an OffThreadError) keeps it too.
 */
export function decorate(
  error: Error,
  status: number,
  retryAfter?: number,
): Error & HttpErrorFields {
  const e = error as Error & Partial<HttpErrorFields>;
  if (typeof e.status !== 'number') e.status = status;
  if (typeof e.statusCode !== 'number') e.statusCode = e.status;
  if (typeof e.expose !== 'boolean') e.expose = true;
  if (retryAfter !== undefined) e.headers = { ...e.headers, 'Retry-After': String(retryAfter) };
  return e as Error & HttpErrorFields;
}
