/**
 * What crosses the thread boundary between the middleware (main thread) and the dispatcher
 * (pool thread). Internal: nothing here is public API.
 */
import type { RequestData } from './snapshot.js';

/** The argument of every task the middleware submits. Short keys: it is cloned per request. */
export interface DispatchArg {
  /** Absolute path of the user's handler module. */
  f: string;
  /** The request snapshot (its data; the thread adds the helpers). */
  r: RequestData;
  /**
   * 1 when the route wants to stream but its pool cannot (no `stream()`, e.g. a RemotePool): an
   * async iterable body is refused with a clear error instead of being collected.
   */
  s?: 1;
}

/** How the result body is to be sent. */
export const Kind = {
  /** `b` is JSON text, serialized in the thread. */
  Json: 0,
  /** `b` is a string sent like `res.send(string)`. */
  Text: 1,
  /** `b` is a Uint8Array, moved (not copied) from the thread. */
  Bytes: 2,
  /** No body. */
  Empty: 3,
  /** The body was streamed (pool.stream()): this is the stream's return value, after every chunk. */
  Streamed: 4,
} as const;

export interface DispatchResult {
  k: (typeof Kind)[keyof typeof Kind];
  /** Status code, when the handler chose one. */
  s?: number;
  /** Headers the handler set. */
  h?: Record<string, string | number | readonly string[]>;
  b?: string | Uint8Array;
}

/**
 * The first value a streamed response yields (dispatch.ts `stream`): its status and headers.
 * The chunks follow, as strings or Uint8Arrays.
 */
export interface StreamHead {
  s?: number;
  h: Record<string, string | number | readonly string[]>;
}

/** Marks the object `reply()` returns; a registered symbol so any copy of this package knows it. */
export const kReply: unique symbol = Symbol.for('offthread.express.reply') as never;
