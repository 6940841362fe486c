import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { isOffThreadError, OffThreadError, OffThreadErrorCode, type Pool } from '@offthread/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { getDefaultPool } from './default-pool.js';
import { decorate, poolErrorStatus } from './errors.js';
import {
  CREDIT,
  type DispatchArg,
  type DispatchResult,
  Kind,
  type StreamMessage,
} from './protocol.js';
import { type LocalsOption, snapshotRequest } from './take-snapshot.js';

/** Options of {@link offThread}. Every field is optional; see {@link defaultOffThreadOptions}. */
export interface OffThreadOptions {
  /** The pool that runs the handler. Defaults to the process-wide default pool ({@link getDefaultPool}). */
  pool?: Pool;
  /**
   * Most ms the handler may run (time waiting in the queue excluded); past it the thread is
   * stopped and the client gets a 503. Defaults to the pool's `taskTimeout` (none by default).
   */
  timeout?: number;
  /**
   * What the handler sees as `req.locals`: a list of `res.locals` keys, or a function
   * `(req, res) => data` returning cloneable data. Defaults to none (`undefined`).
   */
  locals?: LocalsOption;
  /**
   * Let the handler stream an async iterable as it is produced. This opens a MessageChannel per
   * request (about 50 µs); with `false`, an async iterable is collected and sent in one piece.
   * Defaults to true.
   */
  stream?: boolean;
  /** Seconds sent in `Retry-After` with a 503 (queue full, timeout, pool closed). Defaults to 1. */
  retryAfter?: number;
  /**
   * Answer overload (queue full, timeout, pool closed) directly with a 503, `Retry-After` and a
   * JSON body `{ error, code, message }`. With `false` the error goes to `next(err)` with
   * `status`, `statusCode`, `expose` and `headers` set, for your error handler. Defaults to true.
   */
  respondToOverload?: boolean;
  /** Priority of this route's tasks in the pool queue: higher runs first. Defaults to 0. */
  priority?: number;
}

/** The defaults of {@link OffThreadOptions}. */
export const defaultOffThreadOptions = Object.freeze({
  timeout: undefined as number | undefined,
  stream: true,
  retryAfter: 1,
  respondToOverload: true,
  priority: 0,
});

/** The middleware {@link offThread} returns: an Express handler with a start-up promise. */
export interface OffThreadMiddleware extends RequestHandler {
  /**
   * Settles once the handler module has been loaded in a pool thread and its default export
   * checked. Rejects with an OffThreadError (ERR_OFFTHREAD_WORKER_INIT: the module failed to load;
   * ERR_OFFTHREAD_TASK_NOT_FOUND: no default export function). Await it before `app.listen()`.
   * If nobody reads it, a failure is reported with `process.emitWarning()` instead.
   */
  readonly ready: Promise<void>;
  /** The pool the route runs on. */
  readonly pool: Pool;
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

const knownOptions = new Set(Object.keys(defaultOffThreadOptions).concat(['pool', 'locals']));
const pending = new Set<Promise<void>>();

/**
 * Run an Express route's work in a worker-thread pool. The handler module's default export gets
 * a plain snapshot of the request and returns the response: a value (sent as JSON), a
 * Buffer/Uint8Array (sent as bytes), `reply({ status, headers, body })` from
 * `@offthread/express/worker`, or an async iterable (streamed).
 *
 * @param handlerModule absolute path or file URL of the handler module
 *   (`new URL('./handlers/report.js', import.meta.url)`).
 * @param options see {@link OffThreadOptions}.
 * @returns the middleware; `await middleware.ready` to fail start-up if the module cannot load.
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
  const filename = resolveHandlerModule(handlerModule);
  const o = resolveOptions(options);
  if (!existsSync(filename)) {
    throw new OffThreadError(
      OffThreadErrorCode.WORKER_INIT,
      `offThread(): the handler module ${filename} does not exist. Check the path; in ESM use new URL('./handlers/x.js', import.meta.url), in CommonJS path.join(__dirname, 'handlers/x.js').`,
      { filename },
    );
  }
  const pool = o.pool ?? getDefaultPool();
  const runOptions = { filename: dispatchPath, timeout: o.timeout, priority: o.priority };

  let startupError: Error | undefined;
  let observed = false;
  const ready = checkHandler(pool, filename).then(
    () => undefined,
    (error: Error) => {
      // A pool closed before the check ran says nothing about the module; requests get a 503.
      if (!isOffThreadError(error, OffThreadErrorCode.POOL_CLOSED)) {
        startupError = error;
        if (!observed) process.emitWarning(error);
      }
      throw error;
    },
  );
  ready.catch(() => {});
  pending.add(ready);
  ready.finally(() => pending.delete(ready)).catch(() => {});

  const middleware = function offThreadMiddleware(
    req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    if (startupError) {
      next(decorate(startupError, 500));
      return;
    }
    let arg: DispatchArg;
    try {
      arg = { f: filename, r: snapshotRequest(req, res, o.locals) };
    } catch (error) {
      next(error);
      return;
    }
    const controller = new AbortController();
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

    let port: MessagePort | undefined;
    let stream: StreamReceiver | undefined;
    if (o.stream) {
      const channel = new MessageChannel();
      port = channel.port1;
      arg.p = channel.port2;
      stream = receiveStream(port, res);
    }
    const done = () => {
      finished = true;
      res.off('close', onClose);
      port?.close();
    };

    pool
      .run<DispatchResult>(arg, {
        ...runOptions,
        signal: controller.signal,
        transferList: arg.p ? [arg.p] : undefined,
      })
      .then(
        (result) => {
          if (result.k !== Kind.Streamed) {
            done();
            send(res, result);
            return;
          }
          stream!.ended.then((complete) => {
            done();
            if (complete) res.end();
            else res.destroy();
          });
        },
        (error: unknown) => {
          done();
          // The client is gone: there is nobody to answer.
          if (controller.signal.aborted && isOffThreadError(error, OffThreadErrorCode.ABORTED))
            return;
          const mapped = poolErrorStatus(error);
          if (!mapped) {
            next(error);
            return;
          }
          if (!mapped.overload) {
            next(decorate(error as Error, mapped.status));
            return;
          }
          const e = decorate(error as Error, mapped.status, o.retryAfter);
          if (res.headersSent) {
            next(e);
            return;
          }
          res.setHeader('Retry-After', String(o.retryAfter));
          if (o.respondToOverload) {
            res.status(e.status).json({
              error: 'Service Unavailable',
              code: (error as OffThreadError).code,
              message: e.message,
            });
          } else {
            next(e);
          }
        },
      );
  };
  Object.defineProperties(middleware, {
    ready: {
      get() {
        observed = true;
        return ready;
      },
      enumerable: true,
    },
    pool: { value: pool, enumerable: true },
    filename: { value: filename, enumerable: true },
  });
  return middleware as OffThreadMiddleware;
}

/**
 * Load the handler module in a pool thread and check its default export. A full queue says
 * nothing about the module (with a small `maxQueue` even a pool whose threads are still starting
 * is "full"), so that case is retried for a few seconds.
 */
async function checkHandler(pool: Pool, filename: string): Promise<void> {
  for (let attempt = 1, delay = 10; ; attempt++, delay = Math.min(delay * 2, 500)) {
    try {
      await pool.run<true>(filename, { filename: dispatchPath, name: 'check' });
      return;
    } catch (error) {
      if (!isOffThreadError(error, OffThreadErrorCode.QUEUE_FULL) || attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }
}

/**
 * Wait until every `offThread()` middleware created so far has loaded its handler module.
 * Rejects with the first failure, so an app can refuse to start:
 * `await offThreadReady(); app.listen(3000);`
 */
export async function offThreadReady(): Promise<void> {
  await Promise.all(pending);
}

interface StreamReceiver {
  /** Resolves true on the thread's `end` message, false if the port closed without it. */
  ended: Promise<boolean>;
}

function receiveStream(port: MessagePort, res: Response): StreamReceiver {
  let resolveEnded!: (complete: boolean) => void;
  const ended = new Promise<boolean>((resolve) => {
    resolveEnded = resolve;
  });
  const credit = () => port.postMessage(CREDIT);
  port.on('message', (message: StreamMessage) => {
    switch (message.t) {
      case 'head':
        if (message.s !== undefined) res.status(message.s);
        if (message.h) res.set(message.h as Record<string, string>);
        if (!res.hasHeader('content-type'))
          res.setHeader('Content-Type', 'application/octet-stream');
        break;
      case 'chunk': {
        const d = message.d;
        const data = typeof d === 'string' ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
        if (res.write(data)) credit();
        else res.once('drain', credit);
        break;
      }
      case 'end':
        resolveEnded(true);
        break;
    }
  });
  port.on('close', () => resolveEnded(false));
  return { ended };
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

function resolveHandlerModule(file: unknown): string {
  if (file instanceof URL) {
    if (file.protocol !== 'file:')
      throw new TypeError(`handlerModule must be a file: URL, got ${file.href}`);
    return fileURLToPath(file);
  }
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(
      `handlerModule must be an absolute path or a file URL (new URL('./handlers/x.js', import.meta.url)), got ${describe(file)}`,
    );
  }
  if (file.startsWith('file:')) return fileURLToPath(file);
  if (!isAbsolute(file)) {
    throw new TypeError(
      `handlerModule must be an absolute path or a file URL, got the relative path ${JSON.stringify(file)}. Use new URL('${file}', import.meta.url) in ESM or path.join(__dirname, '${file}') in CommonJS.`,
    );
  }
  return file;
}

function resolveOptions(options: OffThreadOptions | undefined) {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!knownOptions.has(key)) {
      throw new TypeError(
        `options.${key} is not an offThread() option. Known options: ${[...knownOptions].join(', ')}`,
      );
    }
  }
  const { pool, timeout, locals, stream, retryAfter, respondToOverload, priority } = options;
  if (pool !== undefined && (pool === null || typeof (pool as Pool).run !== 'function')) {
    throw new TypeError(`options.pool must be a Pool from @offthread/core, got ${describe(pool)}`);
  }
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || Number.isNaN(timeout)) {
      throw new TypeError(
        `options.timeout must be a number of milliseconds, got ${describe(timeout)}`,
      );
    }
    if (timeout <= 0)
      throw new RangeError(`options.timeout must be a number of milliseconds > 0, got ${timeout}`);
  }
  if (
    locals !== undefined &&
    typeof locals !== 'function' &&
    !(Array.isArray(locals) && locals.every((k) => typeof k === 'string'))
  ) {
    throw new TypeError(
      `options.locals must be an array of res.locals keys or a function (req, res) => data, got ${describe(locals)}`,
    );
  }
  for (const [name, value] of [
    ['stream', stream],
    ['respondToOverload', respondToOverload],
  ] as const) {
    if (value !== undefined && typeof value !== 'boolean') {
      throw new TypeError(`options.${name} must be a boolean, got ${describe(value)}`);
    }
  }
  if (retryAfter !== undefined) {
    if (typeof retryAfter !== 'number' || !Number.isInteger(retryAfter)) {
      throw new TypeError(
        `options.retryAfter must be a whole number of seconds, got ${describe(retryAfter)}`,
      );
    }
    if (retryAfter < 0)
      throw new RangeError(`options.retryAfter must be >= 0 seconds, got ${retryAfter}`);
  }
  if (priority !== undefined && (typeof priority !== 'number' || Number.isNaN(priority))) {
    throw new TypeError(`options.priority must be a number, got ${describe(priority)}`);
  }
  return {
    pool,
    locals,
    timeout: timeout ?? defaultOffThreadOptions.timeout,
    stream: stream ?? defaultOffThreadOptions.stream,
    retryAfter: retryAfter ?? defaultOffThreadOptions.retryAfter,
    respondToOverload: respondToOverload ?? defaultOffThreadOptions.respondToOverload,
    priority: priority ?? defaultOffThreadOptions.priority,
  };
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
