/**
 * The task module every offThread() route runs in its pool thread. It loads the user's handler
 * module, calls its default export with the request snapshot, and turns what it returns into
 * data the main thread can send: JSON text serialized here (off the main thread), bytes moved
 * without a copy, or chunks streamed through the core's pool.stream() (credit-based backpressure).
 * Internal: the middleware points the pool at this file.
 */
import * as workerThreads from 'node:worker_threads';
import { loadExport } from '@offthread/core/adapter';
import { transfer } from '@offthread/core/worker';
import { type DispatchArg, type DispatchResult, Kind, type StreamHead } from './protocol.js';
import type { RequestSnapshot } from './snapshot.js';
import { isReply, type ReplyHeaders } from './worker.js';

type Handler = (req: RequestSnapshot) => unknown;

const loadOptions = {
  label: 'offThread(): the handler module',
  advice:
    'Write `export default function handler(req) { ... }` (or `module.exports = function handler(req) { ... }` in CommonJS).',
};

/**
 * The handler: the core's per-thread module cache answers every request after the first, so
 * there is no second cache here.
 */
function loadHandler(filename: string): Promise<Handler> {
  return loadExport(filename, 'default', loadOptions) as Promise<Handler>;
}

/** Load the handler module and check its default export, without calling it (start-up check). */
export async function check(filename: string): Promise<true> {
  await loadHandler(filename);
  return true;
}

/** `req.get(name)`: a request header, case-insensitive, with Express's Referer/Referrer alias. */
function getHeader(this: RequestSnapshot, name: string): string | string[] | undefined {
  if (typeof name !== 'string') {
    throw new TypeError(`req.get(name) expects a header name string, got ${typeof name}`);
  }
  const key = name.toLowerCase();
  const headers = this.headers;
  if (key === 'referer' || key === 'referrer') return headers.referrer ?? headers.referer;
  return Object.hasOwn(headers, key) ? headers[key] : undefined;
}

/** What the handler answered: a result to send, or a body to stream. */
type Outcome =
  | { result: unknown }
  | { body: AsyncIterable<unknown>; status: number | undefined; headers: ReplyHeaders | undefined };

/** Call the handler and turn what it returns into a result, or a body still to stream. */
async function respond(arg: DispatchArg, streaming: boolean): Promise<Outcome> {
  const handler = await loadHandler(arg.f);
  const req = arg.r as RequestSnapshot;
  if (req.body instanceof Uint8Array) {
    req.body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
  }
  // A plain property (defineProperty costs more per request); JSON.stringify skips functions.
  req.get = getHeader;
  const out = await handler(req);
  let status: number | undefined;
  let headers: ReplyHeaders | undefined;
  let body: unknown = out;
  if (isReply(out)) {
    status = out.status;
    headers = out.headers;
    body = out.body;
  } else if (out === undefined) {
    return { result: { k: Kind.Empty, s: 204 } satisfies DispatchResult };
  }
  if (isAsyncIterable(body)) {
    // HEAD wants the headers only: do not produce the body (return() on an unstarted
    // generator ends it without running its code; on a Readable's iterator it destroys it).
    if (req.method === 'HEAD') {
      await body[Symbol.asyncIterator]().return?.();
      return {
        result: { k: Kind.Empty, s: status, h: withDefaultType(headers) } satisfies DispatchResult,
      };
    }
    if (streaming) return { body, status, headers };
    if (arg.s === 1) {
      await body[Symbol.asyncIterator]().return?.();
      throw new TypeError(
        "offThread(): the handler returned an async iterable to stream, but this route's pool cannot stream (it has no stream() method, e.g. a RemotePool from @offthread/bullmq). Pass { stream: false } to offThread() to collect the body and send it in one piece, or run the route on a local Pool.",
      );
    }
    return { result: bytesResult(await collect(body), status, headers) };
  }
  if (body instanceof Uint8Array) return { result: bytesResult(body, status, headers) };
  if (body === undefined)
    return { result: { k: Kind.Empty, s: status, h: headers } satisfies DispatchResult };
  if (typeof body === 'string' && isReply(out))
    return { result: { k: Kind.Text, s: status, h: headers, b: body } satisfies DispatchResult };
  const json = JSON.stringify(body);
  if (json === undefined) {
    throw new TypeError(
      `offThread(): the handler returned ${typeof body === 'function' ? 'a function' : String(body)}, which cannot be sent as JSON`,
    );
  }
  return { result: { k: Kind.Json, s: status, h: headers, b: json } satisfies DispatchResult };
}

/**
 * Run one request with `pool.run()`: the response in one piece (an async iterable body is
 * collected, or refused when `arg.s` says the pool cannot stream).
 */
export default async function dispatch(arg: DispatchArg): Promise<unknown> {
  return ((await respond(arg, false)) as { result: unknown }).result;
}

/**
 * Run one request with `pool.stream()`. A response in one piece is the generator's return value
 * (nothing is yielded, so it costs what `dispatch` costs). A streamed body yields its head
 * (status, headers) and then its chunks, as the core's stream pulls them: at most the stream's
 * window ahead of what the main thread has handed to the socket. The client leaving, a refused
 * header or a timeout stops this generator, which stops the handler's iterable (its `finally`
 * runs).
 */
export async function* stream(arg: DispatchArg): AsyncGenerator<unknown, unknown, undefined> {
  const outcome = await respond(arg, true);
  if ('result' in outcome) return outcome.result;
  const { body, status, headers } = outcome;
  yield { s: status, h: withDefaultType(headers) } satisfies StreamHead;
  for await (const value of body) {
    const chunk = toChunk(value);
    if (typeof chunk === 'string') {
      yield chunk;
    } else {
      // A view into a larger buffer (pooled small Buffers) is copied first: moving it would take
      // memory other Buffers share, cloning it would copy the whole buffer.
      const owned = movable(chunk);
      yield transfer(owned, [owned.buffer as ArrayBuffer]);
    }
  }
  return { k: Kind.Streamed } satisfies DispatchResult;
}

/** The headers a streamed body gets: a Content-Type unless the handler chose one. */
function withDefaultType(headers: ReplyHeaders | undefined): ReplyHeaders {
  for (const name of Object.keys(headers ?? {})) {
    if (name.toLowerCase() === 'content-type') return headers as ReplyHeaders;
  }
  return { ...headers, 'content-type': 'application/octet-stream' };
}

function bytesResult(
  bytes: Uint8Array,
  status: number | undefined,
  headers: ReplyHeaders | undefined,
) {
  const owned = movable(bytes);
  const result: DispatchResult = { k: Kind.Bytes, s: status, h: headers, b: owned };
  return transfer(result, [owned.buffer as ArrayBuffer]);
}

const isMarkedAsUntransferable = (
  workerThreads as { isMarkedAsUntransferable?: (o: object) => boolean }
).isMarkedAsUntransferable;

/**
 * A Uint8Array whose whole buffer can be moved to the main thread. A view over part of a larger
 * buffer (Node's pooled small Buffers) is copied first: moving its buffer would take memory
 * that other Buffers share, and cloning it would copy the whole buffer anyway.
 */
function movable(bytes: Uint8Array): Uint8Array {
  const buffer = bytes.buffer;
  if (
    buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength &&
    !isMarkedAsUntransferable?.(buffer)
  ) {
    return bytes;
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function'
  );
}

function toChunk(chunk: unknown): string | Uint8Array {
  if (typeof chunk === 'string' || chunk instanceof Uint8Array) return chunk;
  throw new TypeError(
    `offThread(): a streamed body must yield strings, Buffers or Uint8Arrays, got ${chunk === null ? 'null' : typeof chunk}. Serialize objects yourself (e.g. JSON.stringify(obj) + '\\n' for NDJSON).`,
  );
}

async function collect(iterable: AsyncIterable<unknown>): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const chunk of iterable) {
    const c = toChunk(chunk);
    parts.push(
      typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength),
    );
  }
  return Buffer.concat(parts);
}
