import { isOffThreadError } from '../index.js';

/**
 * The code of a task that waited in the queue longer than its `queueTimeout`. Spelled out here so
 * the table does not depend on the order in which the core's error codes grow.
 */
const QUEUE_TIMEOUT = 'ERR_OFFTHREAD_QUEUE_TIMEOUT';

/** How an adapter answers one pool failure over HTTP. Bodies never carry paths or source. */
export interface PoolErrorResponse {
  /** 503 (retry later) or 500 (the server failed). */
  status: 503 | 500;
  /** The status text, for a JSON body's `error` field. */
  error: 'Service Unavailable' | 'Internal Server Error';
  /** Send `Retry-After`: true exactly for the 503s. */
  retryAfter: boolean;
  /** The `ERR_OFFTHREAD_*` code. */
  code: string;
  /** A message safe to show a client: no file path, no function source, no stack. */
  message: string;
  /** Whether the original error's message may be shown to clients: only below 500 (http-errors). */
  expose: false;
}

type Row = readonly [status: 503 | 500, message: string];

/**
 * The one table both adapters use. Over capacity or shutting down means "not now, retry"
 * (503 + Retry-After, as connect-timeout answers a timeout); a thread that died, ran out of
 * memory, could not load the code or could not copy the data is the server's fault (500).
 * Kept in a null-prototype object: the key comes from an error, which user code can make.
 */
const table: Record<string, Row> = Object.assign(Object.create(null), {
  ERR_OFFTHREAD_QUEUE_FULL: [503, 'The server is busy: too much work is queued. Retry later.'],
  [QUEUE_TIMEOUT]: [
    503,
    'The server is busy: the request waited too long for a free worker thread. Retry later.',
  ],
  ERR_OFFTHREAD_POOL_CLOSED: [503, 'The server is shutting down. Retry later.'],
  ERR_OFFTHREAD_TIMEOUT: [
    503,
    'The work for this request took too long and was stopped. Retry later.',
  ],
  ERR_OFFTHREAD_WORKER_EXIT: [500, 'The worker thread running this request stopped unexpectedly.'],
  ERR_OFFTHREAD_OUT_OF_MEMORY: [500, 'The worker thread running this request ran out of memory.'],
  ERR_OFFTHREAD_WORKER_INIT: [500, 'The code for this route could not be loaded.'],
  ERR_OFFTHREAD_TASK_NOT_FOUND: [500, 'The code for this route could not be loaded.'],
  ERR_OFFTHREAD_UNCLONEABLE: [
    500,
    'The request or its result could not be passed to or from a worker thread.',
  ],
  ERR_OFFTHREAD_RESULT_LOST: [
    500,
    'The worker thread stopped before the result of this request could be sent back.',
  ],
  ERR_OFFTHREAD_ABORTED: [500, 'The work for this request was cancelled.'],
} satisfies Record<string, Row>);

/** Returned by {@link poolErrorResponse} when the client left: send nothing. */
export const CLIENT_GONE = 'client-gone' as const;

/**
 * What to answer for an error a pool rejected with:
 * - `undefined`: not a pool error (the handler threw it): pass it on unchanged;
 * - {@link CLIENT_GONE}: ERR_OFFTHREAD_ABORTED caused by the adapter's own disconnect signal
 *   (pass it as `abortSignal`): nobody is listening, send nothing (Nest may log 499);
 * - otherwise the status, `Retry-After` flag and a client-safe message.
 *
 * | code | status |
 * |---|---|
 * | QUEUE_FULL, QUEUE_TIMEOUT, POOL_CLOSED, TIMEOUT | 503 + Retry-After |
 * | WORKER_EXIT, OUT_OF_MEMORY, RESULT_LOST, WORKER_INIT, TASK_NOT_FOUND, UNCLONEABLE | 500 |
 * | ABORTED by the adapter's signal | nothing sent |
 * | any other ERR_OFFTHREAD_* (ABORTED by another signal included) | 500 |
 */
export function poolErrorResponse(
  error: unknown,
  abortSignal?: AbortSignal,
): PoolErrorResponse | typeof CLIENT_GONE | undefined {
  if (!isOffThreadError(error)) return undefined;
  const code = String((error as { code: unknown }).code);
  if (code === 'ERR_OFFTHREAD_ABORTED' && abortSignal?.aborted) return CLIENT_GONE;
  const row = table[code] ?? ([500, 'Internal Server Error'] as const);
  const status = row[0];
  return {
    status,
    error: status === 503 ? 'Service Unavailable' : 'Internal Server Error',
    retryAfter: status === 503,
    code,
    message: row[1],
    expose: false,
  };
}

/** The HTTP fields http-errors and Express's finalhandler read from an error. */
export interface HttpErrorFields {
  status: number;
  statusCode: number;
  /** true only below 500: a 5xx message may carry paths or source and is not for clients. */
  expose: boolean;
  /** Extra response headers (`Retry-After` on a 503). */
  headers?: Record<string, string>;
}

/**
 * Give a pool error the fields of {@link HttpErrorFields} for `response`, as http-errors would:
 * `expose` only below 500, `Retry-After` in `headers` for a 503. Fields the error already has
 * are kept when they are valid (a handler may throw its own OffThreadError with a status).
 *
 * @param retryAfterSeconds the value of `Retry-After`, used when `response.retryAfter`.
 */
export function withHttpFields<E extends Error>(
  error: E,
  response: Pick<PoolErrorResponse, 'status' | 'retryAfter'>,
  retryAfterSeconds: number,
): E & HttpErrorFields {
  const e = error as E & Partial<HttpErrorFields>;
  const status =
    typeof e.status === 'number' && e.status >= 400 && e.status < 600 ? e.status : response.status;
  e.status = status;
  e.statusCode = status;
  e.expose = status < 500;
  if (response.retryAfter) e.headers = { ...e.headers, 'Retry-After': String(retryAfterSeconds) };
  return e as E & HttpErrorFields;
}

/** The JSON body an adapter sends when it answers a pool error itself: `{ error, code, message }`. */
export function poolErrorBody(response: PoolErrorResponse): {
  error: string;
  code: string;
  message: string;
} {
  return { error: response.error, code: response.code, message: response.message };
}
