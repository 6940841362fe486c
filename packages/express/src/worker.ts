/**
 * The API for handler modules, which run in a pool thread:
 * `import { reply } from '@offthread/express/worker'`.
 * @module
 */
import { kReply } from './protocol.js';

export { currentTask, getWorkerData, isOffThreadWorker } from '@offthread/core/worker';
export type { RequestSnapshot } from './snapshot.js';

/** Header values a handler may set, as with `res.set()`. */
export type ReplyHeaders = Record<string, string | number | readonly string[]>;

/** What {@link reply} takes. Every field is optional. */
export interface ReplyInit<Body = unknown> {
  /** HTTP status code, 100 to 599. Defaults to 200. */
  status?: number;
  /** Response headers, as with `res.set()`. */
  headers?: ReplyHeaders;
  /**
   * The body: a Buffer or Uint8Array is sent as bytes (moved out of the thread, not copied); a
   * string is sent like `res.send(string)`; an async iterable of strings/Uint8Arrays (an async
   * generator, a Readable) is streamed as it is produced; `undefined` sends no body; anything
   * else is sent as JSON.
   */
  body?: Body;
}

/** The value {@link reply} returns. Return it from the handler; it is plain data. */
export interface Reply<Body = unknown> extends ReplyInit<Body> {
  readonly [kReply]: true;
}

/**
 * Describe a full response from a handler module: status, headers and body.
 *
 * @example
 * import { reply } from '@offthread/express/worker';
 * export default function report(req) {
 *   const pdf = renderPdf(req.body);
 *   return reply({ status: 201, headers: { 'content-type': 'application/pdf' }, body: pdf });
 * }
 *
 * @throws {TypeError | RangeError} when `status` is not an integer from 100 to 599 or `headers` is not an object.
 */
export function reply<Body>(init: ReplyInit<Body>): Reply<Body> {
  if (init === null || typeof init !== 'object') {
    throw new TypeError('reply(init) expects an object like { status: 201, headers: {}, body }');
  }
  const { status, headers } = init;
  if (status !== undefined) {
    if (typeof status !== 'number' || !Number.isInteger(status)) {
      throw new TypeError(
        `reply.status must be an integer HTTP status code, got ${String(status)}`,
      );
    }
    if (status < 100 || status > 599) {
      throw new RangeError(
        `reply.status must be an HTTP status code from 100 to 599, got ${status}`,
      );
    }
  }
  if (
    headers !== undefined &&
    (headers === null || typeof headers !== 'object' || Array.isArray(headers))
  ) {
    throw new TypeError("reply.headers must be an object like { 'content-type': 'text/csv' }");
  }
  return { [kReply]: true, status, headers, body: init.body };
}

/** Is `value` a {@link reply} result? */
export function isReply(value: unknown): value is Reply {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as Record<symbol, unknown>)[kReply] === true
  );
}
