/**
 * What crosses the thread boundary between the middleware (main thread) and the dispatcher
 * (pool thread). Internal: nothing here is public API.
 */
import type { MessagePort } from 'node:worker_threads';
import type { RequestData } from './snapshot.js';

/** The argument of every task the middleware submits. Short keys: it is cloned per request. */
export interface DispatchArg {
  /** Absolute path of the user's handler module. */
  f: string;
  /** The request snapshot (its data; the thread adds the helpers). */
  r: RequestData;
  /** Port to stream chunks on, when the route allows streaming. */
  p?: MessagePort;
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
  /** The body was streamed over the port; the response ends on the port's `end` message. */
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

/** Messages the thread posts on the stream port, in order. */
export type StreamMessage =
  | { t: 'head'; s?: number; h?: Record<string, string | number | readonly string[]> }
  | { t: 'chunk'; d: string | Uint8Array }
  | { t: 'end' };

/** The main thread posts this on the stream port each time it has taken a chunk (a credit). */
export const CREDIT = 1;
/** Chunks the thread may post before the main thread has taken them. */
export const STREAM_WINDOW = 8;

/** Marks the object `reply()` returns; a registered symbol so any copy of this package knows it. */
export const kReply: unique symbol = Symbol.for('offthread.express.reply') as never;
