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
   * When the route allows streaming: the name of the stream hub's control channel, and this
   * request's id on it. No channel is opened unless the handler actually streams.
   */
  c?: string;
  i?: number;
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
  /** The body was streamed on the request's channel; `e` says whether it ended (an `end` was posted). */
  Streamed: 4,
} as const;

export interface DispatchResult {
  k: (typeof Kind)[keyof typeof Kind];
  /** Status code, when the handler chose one. */
  s?: number;
  /** Headers the handler set. */
  h?: Record<string, string | number | readonly string[]>;
  b?: string | Uint8Array;
  /** For Kind.Streamed: true when the stream ended normally (its `end` message may still be in flight). */
  e?: boolean;
}

/** Messages the thread posts on the request's stream channel, in order. */
export type StreamMessage =
  | { t: 'head'; s?: number; h?: Record<string, string | number | readonly string[]> }
  | { t: 'chunk'; d: string | Uint8Array }
  | { t: 'end' };

/** The main thread posts this on the stream channel each time it has taken a chunk (a credit). */
export const CREDIT = 1;
/** The main thread posts this once it listens on the request's stream channel: start sending. */
export const READY = 2;
/** The main thread posts this to stop the producer (a refused header, a request already gone). */
export const STOP = 3;
/** Chunks the thread may post before the main thread has taken them. */
export const STREAM_WINDOW = 8;

/** Marks the object `reply()` returns; a registered symbol so any copy of this package knows it. */
export const kReply: unique symbol = Symbol.for('offthread.express.reply') as never;
