/**
 * The task module every offThread() route runs in its pool thread. It loads the user's handler
 * module, calls its default export with the request snapshot, and turns what it returns into
 * data the main thread can send: JSON text serialized here (off the main thread), bytes moved
 * without a copy, or chunks streamed over a MessagePort with credit-based backpressure.
 * Internal: the middleware points the pool at this file.
 */
import * as workerThreads from 'node:worker_threads';
import { BroadcastChannel } from 'node:worker_threads';
import { loadExport } from '@offthread/core/adapter';
import { currentTask, transfer } from '@offthread/core/worker';
import {
  CREDIT,
  type DispatchArg,
  type DispatchResult,
  Kind,
  READY,
  STOP,
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
    if (arg.c !== undefined && arg.i !== undefined) {
      return await stream(arg.c, arg.i, body, status, headers);
    }
    return bytesResult(await collect(body), status, headers);
  }
  if (body instanceof Uint8Array) return bytesResult(body, status, headers);
  if (body === undefined) return { k: Kind.Empty, s: status, h: headers } satisfies DispatchResult;
  if (typeof body === 'string' && isReply(out))
    return { k: Kind.Text, s: status, h: headers, b: body } satisfies DispatchResult;
  const json = JSON.stringify(body);
  if (json === undefined) {
    throw new TypeError(
      `offThread(): the handler returned ${typeof body === 'function' ? 'a function' : String(body)}, which cannot be sent as JSON`,
    );
  }
  return { k: Kind.Json, s: status, h: headers, b: json } satisfies DispatchResult;
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
 * Stream the chunks to the main thread as they are produced. The request's channel is opened
 * now, not before the handler ran: the thread asks the middleware's stream hub for it (a request
 * id on the hub's control channel) and starts once the main thread says READY. At most
 * STREAM_WINDOW chunks are in flight: the main thread sends a credit back once it has handed a
 * chunk to a socket that accepted it, so a slow client slows the producer instead of filling
 * memory. The client going away aborts the task's signal, and a refused header makes the main
 * thread send STOP; either stops the iteration (which runs the generator's `finally`).
 */
async function stream(
  hub: string,
  id: number,
  iterable: AsyncIterable<unknown>,
  status: number | undefined,
  headers: ReplyHeaders | undefined,
): Promise<DispatchResult> {
  const { signal } = currentTask();
  let credits = STREAM_WINDOW;
  let ready = false;
  let stopped = signal.aborted;
  let ended = false;
  let wake: (() => void) | undefined;
  const sleep = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    }).then(() => {
      wake = undefined;
    });
  const channel = new BroadcastChannel(`${hub}.${id}`);
  channel.onmessage = (event) => {
    const message = (event as MessageEvent).data;
    if (message === CREDIT) credits++;
    else if (message === READY) ready = true;
    else if (message === STOP) stopped = true;
    wake?.();
  };
  const onStop = () => {
    stopped = true;
    wake?.();
  };
  signal.addEventListener('abort', onStop);
  const post = (message: StreamMessage) => channel.postMessage(message);
  try {
    // Ask for the channel; a short-lived handle on the control channel is enough to post.
    const control = new BroadcastChannel(hub);
    control.postMessage(id);
    control.close();
    while (!ready && !stopped) await sleep();
    if (stopped) return { k: Kind.Streamed, e: false };
    post({ t: 'head', s: status, h: headers });
    for await (const value of iterable) {
      if (stopped) break;
      const chunk = toChunk(value);
      while (credits === 0 && !stopped) await sleep();
      if (stopped) break;
      credits--;
      // A view into a larger buffer (pooled small Buffers) is copied first: cloning the view
      // would copy the whole buffer.
      post({ t: 'chunk', d: typeof chunk === 'string' ? chunk : movable(chunk) });
    }
    if (!stopped) {
      post({ t: 'end' });
      ended = true;
    }
  } catch (error) {
    // Let the main thread write every chunk posted so far before the failure reaches it (the
    // result travels on another channel and could overtake them): the client then gets the
    // data produced before the error, then a cut connection, rather than a race.
    while (credits < STREAM_WINDOW && !stopped) await sleep();
    throw error;
  } finally {
    signal.removeEventListener('abort', onStop);
    channel.close();
  }
  return { k: Kind.Streamed, e: ended };
}
