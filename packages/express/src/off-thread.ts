import { fileURLToPath } from 'node:url';
import { isOffThreadError, isTaskPool, OffThreadErrorCode, type TaskPool } from '@offthread/core';
import {
  CLIENT_GONE,
  checkBooleanOption,
  checkDurationOption,
  checkPriorityOption,
  checkRetryAfterOption,
  defaultAdapterOptions,
  describeValue,
  poolErrorBody,
  poolErrorResponse,
  readOptionBag,
  resolveModulePath,
  retryWhileQueueFull,
  startupRegistry,
  withHttpFields,
} from '@offthread/core/adapter';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { getDefaultPool } from './default-pool.js';
import { uncloneableRequestError } from './errors.js';
import { type DispatchArg, type DispatchResult, Kind, type StreamHead } from './protocol.js';
import { type LocalsOption, snapshotRequest } from './take-snapshot.js';

/** Options of {@link offThread}. Every field is optional; see {@link defaultOffThreadOptions}. */
export interface OffThreadOptions {
  /**
   * The pool that runs the handler: a `Pool` from `@offthread/core` or any other `TaskPool`.
   * Defaults to the process-wide default pool ({@link getDefaultPool}).
   */
  pool?: TaskPool;
  /**
   * Most ms the handler may run (time waiting in the queue excluded); past it the thread is
   * stopped and the client gets a 503 with `Retry-After`. `Infinity` means no limit; `0` is
   * rejected. Defaults to the pool's `taskTimeout` (none by default).
   */
  timeout?: number;
  /**
   * Most ms a request may wait in the pool's queue for a free thread; past it the client gets a
   * 503 with `Retry-After` (ERR_OFFTHREAD_QUEUE_TIMEOUT) and the handler never runs.
   * `Infinity` means no limit; `0` is rejected. Defaults to 10 000.
   */
  queueTimeout?: number;
  /**
   * What the handler sees as `req.locals`: a list of `res.locals` keys, or a function
   * `(req, res) => data` returning cloneable data. Defaults to none (`undefined`).
   */
  locals?: LocalsOption;
  /**
   * Let the handler stream an async iterable as it is produced, through the pool's `stream()`
   * (credit-based backpressure from the socket to the thread; the client leaving stops the
   * handler's iterable). With `false`, an async iterable is collected and sent in one piece.
   * When the pool has no `stream()` (a `TaskPool` such as `RemotePool`), a handler that returns
   * an async iterable fails with a TypeError (a 500 through `next(err)`) saying to pass
   * `stream: false`. Defaults to true.
   */
  stream?: boolean;
  /** Seconds sent in `Retry-After` with a 503. Defaults to 1. */
  retryAfter?: number;
  /**
   * Answer a 503 (queue full, queue wait or timeout exceeded, pool closing) directly with
   * `Retry-After` and a JSON body `{ error, code, message }`. With `false` the error goes to
   * `next(err)` with `status`, `statusCode`, `expose` and `headers` set, for your error handler.
   * Defaults to true. 500s always go to `next(err)`.
   */
  respondToOverload?: boolean;
  /** Priority of this route's tasks in the pool queue: higher runs first. Defaults to 0. */
  priority?: number;
}

/** The defaults of {@link OffThreadOptions}. */
export const defaultOffThreadOptions = Object.freeze({
  timeout: undefined as number | undefined,
  queueTimeout: defaultAdapterOptions.queueTimeout,
  stream: true,
  retryAfter: defaultAdapterOptions.retryAfter,
  respondToOverload: true,
  priority: 0,
});

/** The middleware {@link offThread} returns: an Express handler with a start-up promise. */
export interface OffThreadMiddleware extends RequestHandler {
  /**
   * Settles once the handler module has been loaded in a pool thread and its default export
   * checked. Rejects with an OffThreadError (ERR_OFFTHREAD_WORKER_INIT: the module failed to load;
   * ERR_OFFTHREAD_TASK_NOT_FOUND: no default export function). Reading it counts as handling a
   * failure: no warning is printed for it. See also {@link offThreadReady}.
   */
  readonly ready: Promise<void>;
  /** The pool the route runs on. */
  readonly pool: TaskPool;
  /** Absolute path of the handler module. */
  readonly filename: string;
}

const here = import.meta.url;
/** The dispatcher task module, next to this file in dist/ (in either format). */
const dispatchPath = fileURLToPath(
  here.endsWith('.ts')
    ? new URL('../dist/dispatch.js', here) // tests run the source; threads need built JavaScript
    : new URL(here.endsWith('.cjs') ? './dispatch.cjs' : './dispatch.js', here),
);

const optionNames = [
  'pool',
  'timeout',
  'queueTimeout',
  'locals',
  'stream',
  'retryAfter',
  'respondToOverload',
  'priority',
] as const;

/** Start-up checks of every offThread() in the process, shared by the ESM and CJS builds. */
const checks = startupRegistry('express');

/**
 * Run an Express route's work in a worker-thread pool. The handler module's default export gets
 * a plain snapshot of the request and returns the response: a value (sent as JSON), a
 * Buffer/Uint8Array (sent as bytes), `reply({ status, headers, body })` from
 * `@offthread/express/worker`, or an async iterable (streamed).
 *
 * Pool failures are answered with the table every offthread adapter shares (see the core
 * README's "Errors over HTTP"): 503 with `Retry-After` when the work could not be done now,
 * 500 (with `expose: false`) when the server failed, nothing when the client left.
 *
 * @param handlerModule absolute path or file URL of the handler module
 *   (`new URL('./handlers/report.js', import.meta.url)`).
 * @param options see {@link OffThreadOptions}.
 * @returns the middleware; `await offThreadReady()` before `app.listen()` to refuse to start when a
 *   handler module cannot load.
 * @throws {TypeError | RangeError} when `handlerModule` or an option is invalid (the message names it).
 * @throws {OffThreadError} ERR_OFFTHREAD_WORKER_INIT when the handler module does not exist.
 *
 * @example
 * app.post('/reports', express.json(), offThread(new URL('./handlers/report.js', import.meta.url), { timeout: 5000 }));
 */
export function offThread(
  handlerModule: string | URL,
  options?: OffThreadOptions,
): OffThreadMiddleware {
  const o = resolveOptions(options);
  const filename = resolveModulePath(handlerModule, { label: 'offThread() handlerModule' });
  const pool = o.pool ?? getDefaultPool();
  const { retryAfter, respondToOverload, locals } = o;
  const { timeout, queueTimeout, priority } = o;
  // Streamed replies ride on the core's pool.stream(); a pool without it cannot stream them.
  const streaming = o.stream && typeof pool.stream === 'function';
  const refuseStreams = o.stream && !streaming;
  const check = checks.track(
    retryWhileQueueFull(() => pool.run<true>(filename, { filename: dispatchPath, name: 'check' })),
  );

  const middleware = function offThreadMiddleware(
    req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    const startupError = check.error;
    // Only a module that cannot load is broken for good; a check that failed for another reason
    // (a pool overloaded at start-up, a thread that died) says nothing about later requests.
    if (
      startupError &&
      (isOffThreadError(startupError, OffThreadErrorCode.WORKER_INIT) ||
        isOffThreadError(startupError, OffThreadErrorCode.TASK_NOT_FOUND))
    ) {
      check.warnIfUnhandled();
      next(httpError(startupError, 500, false, retryAfter));
      return;
    }
    let arg: DispatchArg;
    try {
      arg = { f: filename, r: snapshotRequest(req, res, locals) };
    } catch (error) {
      next(error);
      return;
    }
    const controller = new AbortController();
    // One settle for the request: the first of result, failure, header error or a closed client wins.
    let finished = false;
    const onClose = () => {
      if (!finished && !res.writableFinished) {
        controller.abort(
          new Error('The client closed the connection before the response was complete'),
        );
      }
    };
    res.once('close', onClose);
    if (res.socket?.destroyed) onClose();

    const done = () => {
      finished = true;
      res.off('close', onClose);
    };
    const onResult = (result: DispatchResult) => {
      if (finished) return;
      done();
      try {
        send(res, result);
      } catch (error) {
        // Headers Node refuses (a non-ASCII value, a name with a space...): nothing was
        // written yet, so the app's error handler can still answer.
        clearHeaders(res, result.h);
        next(httpError(error, 500, false, retryAfter));
      }
    };
    const onError = (error: unknown) => {
      if (finished) return;
      done();
      const response = poolErrorResponse(error, controller.signal);
      if (response === CLIENT_GONE) return; // nobody is listening
      if (response === undefined) {
        next(error); // the handler's own error, with its own status if it set one
        return;
      }
      let e = error as Error;
      if (isOffThreadError(error, OffThreadErrorCode.UNCLONEABLE)) {
        e = uncloneableRequestError(arg.r as unknown as Record<string, unknown>, error) ?? e;
      }
      const httpErr = httpError(e, response.status, response.retryAfter, retryAfter);
      if (response.status !== 503 || !respondToOverload || res.headersSent) {
        next(httpErr);
        return;
      }
      res.setHeader('Retry-After', String(retryAfter));
      res.status(503).json(poolErrorBody(response));
    };
    if (!streaming) {
      if (refuseStreams) arg.s = 1;
      pool
        .run<DispatchResult>(arg, {
          filename: dispatchPath,
          timeout,
          queueTimeout,
          priority,
          signal: controller.signal,
        })
        .then(onResult, onError);
      return;
    }
    // A response in one piece is the stream's return value (nothing yielded); a streamed one
    // yields its head, then its chunks.
    const body = pool.stream!<StreamHead | string | Uint8Array>(arg, {
      filename: dispatchPath,
      name: 'stream',
      timeout,
      queueTimeout,
      priority,
      signal: controller.signal,
    });
    body.next().then((first) => {
      if (first.done) onResult(first.value as DispatchResult);
      else void pipe(first.value as StreamHead);
    }, onError);

    /** Write the chunks as the socket takes them; the next one is asked for only then. */
    async function pipe(head: StreamHead): Promise<void> {
      let headSent = false;
      for (;;) {
        let step: IteratorResult<StreamHead | string | Uint8Array, unknown>;
        try {
          step = await body.next();
        } catch (error) {
          onError(error);
          return;
        }
        // The client left: the abort already stops the thread's generator.
        if (finished || controller.signal.aborted) return;
        if (!headSent) {
          // Set only once there is a chunk (or the end): a failure before the first chunk still
          // gets a clean error response.
          headSent = true;
          try {
            if (head.s !== undefined) res.status(head.s);
            res.set(head.h as Record<string, string>);
          } catch (error) {
            // A header Node refuses: drop what was set, stop the producer, answer 500.
            clearHeaders(res, head.h);
            done();
            void body.return();
            next(httpError(error, 500, false, retryAfter));
            return;
          }
        }
        if (step.done) {
          done();
          res.end();
          return;
        }
        const d = step.value as string | Uint8Array;
        const data = typeof d === 'string' ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
        if (!res.write(data)) await drained(res);
        if (finished || controller.signal.aborted) return;
      }
    }
  };
  Object.defineProperties(middleware, {
    ready: {
      get() {
        check.markHandled();
        return check.promise;
      },
      enumerable: true,
    },
    pool: { value: pool, enumerable: true },
    filename: { value: filename, enumerable: true },
  });
  return middleware as OffThreadMiddleware;
}

/**
 * Wait until every `offThread()` middleware created so far in this process (by either module
 * format of this package) has loaded its handler module, checks that finished long ago included.
 * Resolves when all passed; rejects with the failure, or with an AggregateError listing every
 * failure when several routes are broken, so an app can refuse to start:
 * `await offThreadReady(); app.listen(3000);`. Failures it reports are not also printed as
 * warnings (an unchecked failure is printed once, after 10 s or at the route's first request).
 */
export function offThreadReady(): Promise<void> {
  return checks.ready();
}

/** Give an error the HTTP fields http-errors and finalhandler read; `expose` only below 500. */
function httpError(error: unknown, status: 500 | 503, retry: boolean, retryAfter: number) {
  const e = error instanceof Error ? error : new Error(String(error));
  return withHttpFields(e, { status, retryAfter: retry }, retryAfter);
}

/** Resolves once the response can take more data, or is closed (the client left). */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      res.off('drain', go);
      res.off('close', go);
      resolve();
    };
    res.once('drain', go);
    res.once('close', go);
  });
}

/** Remove what a failed `res.set()` may have set before it threw. */
function clearHeaders(res: Response, headers: DispatchResult['h']): void {
  if (res.headersSent) return;
  for (const name of Object.keys(headers ?? {})) {
    try {
      res.removeHeader(name);
    } catch {}
  }
}

function send(res: Response, result: DispatchResult): void {
  if (result.s !== undefined) res.status(result.s);
  if (result.h) res.set(result.h as Record<string, string>);
  switch (result.k) {
    case Kind.Json:
      if (!res.hasHeader('content-type')) res.type('json');
      res.send(result.b);
      break;
    case Kind.Text:
      res.send(result.b);
      break;
    case Kind.Bytes: {
      const b = result.b as Uint8Array;
      res.send(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      break;
    }
    default:
      res.end();
  }
}

function resolveOptions(options: OffThreadOptions | undefined) {
  const o = readOptionBag(options, optionNames, 'offThread() options');
  const path = (name: string) => `offThread() options.${name}`;
  if (o.pool !== undefined && !isTaskPool(o.pool)) {
    throw new TypeError(
      `${path('pool')} must be a Pool from @offthread/core (or another TaskPool), got ${describeValue(o.pool)}`,
    );
  }
  const locals = o.locals;
  if (
    locals !== undefined &&
    typeof locals !== 'function' &&
    !(Array.isArray(locals) && locals.every((k) => typeof k === 'string'))
  ) {
    throw new TypeError(
      `${path('locals')} must be an array of res.locals keys or a function (req, res) => data, got ${describeValue(locals)}`,
    );
  }
  const d = defaultOffThreadOptions;
  return {
    pool: o.pool as TaskPool | undefined,
    locals: locals as LocalsOption | undefined,
    timeout: checkDurationOption(o.timeout, path('timeout')) ?? d.timeout,
    queueTimeout: checkDurationOption(o.queueTimeout, path('queueTimeout')) ?? d.queueTimeout,
    stream: checkBooleanOption(o.stream, path('stream')) ?? d.stream,
    retryAfter: checkRetryAfterOption(o.retryAfter, path('retryAfter')) ?? d.retryAfter,
    respondToOverload:
      checkBooleanOption(o.respondToOverload, path('respondToOverload')) ?? d.respondToOverload,
    priority: checkPriorityOption(o.priority, path('priority')) ?? d.priority,
  };
}
