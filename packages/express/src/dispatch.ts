/**
 * The task module every offThread() route runs in its pool thread. It loads the user's handler
 * module, calls its default export with the request snapshot, and turns what it returns into
 * data the main thread can send: JSON text serialized here (off the main thread), bytes moved
 * without a copy, or chunks streamed over a MessagePort with credit-based backpressure.
 * Internal: the middleware points the pool at this file.
 */
import type { MessagePort } from 'node:worker_threads';
import * as workerThreads from 'node:worker_threads';
import {
  currentTask,
  importTaskModule,
  OffThreadError,
  OffThreadErrorCode,
  transfer,
} from '@offthread/core/worker';
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

const handlers = new Map<string, Handler>();
const loading = new Map<string, Promise<Handler>>();

function loadHandler(filename: string): Promise<Handler> {
  let promise = loading.get(filename);
  if (!promise) {
    promise = importHandler(filename);
    loading.set(filename, promise);
  }
  return promise;
}

async function importHandler(filename: string): Promise<Handler> {
  let ns: Record<string, unknown>;
  try {
    // Loaded the way the pool loads task modules: ESM, CJS, and TypeScript (native type
    // stripping, or tsx on Node 20).
    ns = await importTaskModule(filename);
  } catch (error) {
    if (error instanceof OffThreadError) throw error;
    throw new OffThreadError(
      OffThreadErrorCode.WORKER_INIT,
      `offThread(): the handler module ${filename} failed to load in a worker thread: ${(error as Error)?.message ?? String(error)}`,
      { cause: error, filename },
    );
  }
  let fn = ns.default;
  // A CommonJS module compiled from ESM keeps its default export one level down.
  if (typeof fn !== 'function' && fn !== null && typeof fn === 'object')
    fn = (fn as Record<string, unknown>).default;
  if (typeof fn !== 'function') {
    throw new OffThreadError(
      OffThreadErrorCode.TASK_NOT_FOUND,
      `offThread(): the handler module ${filename} has no default export that is a function. Write \`export default function handler(req) { ... }\` (or \`module.exports = function handler(req) { ... }\` in CommonJS).`,
      { filename, task: 'default' },
    );
  }
  handlers.set(filename, fn as Handler);
  return fn as Handler;
}

/** Load the handler module and check its default export, without calling it (start-up check). */
export async function check(filename: string): Promise<true> {
  await loadHandler(filename);
  return true;
}

/** Run one request. */
export default async function dispatch(arg: DispatchArg): Promise<unknown> {
  const port = arg.p;
  let streaming = false;
  try {
    const handler = handlers.get(arg.f) ?? (await loadHandler(arg.f));
    const req = arg.r;
    if (req.body instanceof Uint8Array) {
      req.body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
    }
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
