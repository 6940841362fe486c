/**
 * The task module every offThread() route runs in its pool thread. It loads the user's handler
 * module, calls its default export with the request snapshot, and turns what it returns into
 * data the main thread can send: JSON text serialized here (off the main thread), bytes moved
 * without a copy, or chunks streamed over a MessagePort with credit-based backpressure.
 * Internal: the middleware points the pool at this file.
 */
import type { MessagePort } from 'node:worker_threads';
import * as workerThreads from 'node:worker_threads';
import { loadExport } from '@offthread/core/adapter';
import { currentTask, transfer } from '@offthread/core/worker';
import {
  CREDIT,
  type DispatchArg,
  type DispatchResult,
  Kind,
  STREAM_WINDOW,
  type StreamMessage,
} from './protocol.js';
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

/** Run one request. */
export default async function dispatch(arg: DispatchArg): Promise<unknown> {
  const port = arg.p;
  let streaming = false;
  try {
    const handler = await loadHandler(arg.f);
    const req = arg.r as RequestSnapshot;
    if (req.body instanceof Uint8Array) {
      req.body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
    }
    Object.defineProperty(req, 'get', { value: getHeader, enumerable: false });
    const out = await handler(req);
    let status: number | undefined;
    let headers: ReplyHeaders | undefined;
    let body: unknown = out;
    if (isReply(out)) {
      status = out.status;
      headers = out.headers;
      body = out.body;
    } else if (out === undefined) {
      return { k: Kind.Empty, s: 204 } satisfies DispatchResult;
    }
    if (isAsyncIterable(body)) {
      // HEAD wants the headers only: do not produce the body (return() on an unstarted
      // generator ends it without running its code; on a Readable's iterator it destroys it).
      if (req.method === 'HEAD') {
        await body[Symbol.asyncIterator]().return?.();
        return {
          k: Kind.Empty,
          s: status,
          h: withDefaultType(headers),
        } satisfies DispatchResult;
      }
      if (port) {
        streaming = true;
        return await stream(port, body, status, headers);
      }
      return bytesResult(await collect(body), status, headers);
    }
    if (body instanceof Uint8Array) return bytesResult(body, status, headers);
    if (body === undefined)
      return { k: Kind.Empty, s: status, h: headers } satisfies DispatchResult;
    if (typeof body === 'string' && isReply(out))
      return { k: Kind.Text, s: status, h: headers, b: body } satisfies DispatchResult;
    const json = JSON.stringify(body);
    if (json === undefined) {
      throw new TypeError(
        `offThread(): the handler returned ${typeof body === 'function' ? 'a function' : String(body)}, which cannot be sent as JSON`,
      );
    }
    return { k: Kind.Json, s: status, h: headers, b: json } satisfies DispatchResult;
  } finally {
    if (port && !streaming) port.close();
  }
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

/**
 * Post the chunks on `port` as they are produced. At most STREAM_WINDOW chunks are in flight:
 * the main thread sends a credit back once it has handed a chunk to a socket that accepted it,
 * so a slow client slows the producer instead of filling memory. The client going away closes
 * the port and aborts the task's signal; either stops the iteration (which runs the
 * generator's `finally`).
 */
async function stream(
  port: MessagePort,
  iterable: AsyncIterable<unknown>,
  status: number | undefined,
  headers: ReplyHeaders | undefined,
): Promise<DispatchResult> {
  const { signal } = currentTask();
  let credits = STREAM_WINDOW;
  let stopped = signal.aborted;
  let wake: (() => void) | undefined;
  const onCredit = (message: unknown) => {
    if (message === CREDIT) credits++;
    wake?.();
  };
  const onStop = () => {
    stopped = true;
    wake?.();
  };
  port.on('message', onCredit);
  port.on('close', onStop);
  signal.addEventListener('abort', onStop);
  const post = (message: StreamMessage, transferList?: ArrayBuffer[]) =>
    port.postMessage(message, transferList);
  try {
    post({ t: 'head', s: status, h: headers });
    for await (const value of iterable) {
      if (stopped) break;
      const chunk = toChunk(value);
      while (credits === 0 && !stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      if (stopped) break;
      credits--;
      if (typeof chunk === 'string') {
        post({ t: 'chunk', d: chunk });
      } else {
        const bytes = movable(chunk);
        post({ t: 'chunk', d: bytes }, [bytes.buffer as ArrayBuffer]);
      }
    }
    if (!stopped) post({ t: 'end' });
  } catch (error) {
    // Let the main thread write every chunk posted so far before the failure reaches it (the
    // result travels on another channel and could overtake them): the client then gets the
    // data produced before the error, then a cut connection, rather than a race.
    while (credits < STREAM_WINDOW && !stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    throw error;
  } finally {
    signal.removeEventListener('abort', onStop);
    port.off('message', onCredit);
    port.off('close', onStop);
    port.close();
  }
  return { k: Kind.Streamed };
}
