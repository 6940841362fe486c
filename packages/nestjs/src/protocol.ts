/**
 * What the main thread sends to `worker-entry` and how the two sides share state. Plain data
 * only: it crosses the thread boundary by structured clone.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { LogLevel } from '@nestjs/common';
import type { OffThreadOptions } from './off-thread.options.js';

/**
 * How the worker names the provider's injection token: a string, a `Symbol.for()` key, or a
 * value (class, unique symbol) exported from a file.
 */
export type TokenRef =
  | { kind: 'string'; value: string }
  | { kind: 'symbol'; key: string }
  | { kind: 'export'; file: string; exportName: string; name: string };

/** Where the worker finds a provider and the module whose context provides it. */
export interface TargetRef {
  /** The token the app registered the provider under (the class itself for `providers: [X]`). */
  token: TokenRef;
  /** File exporting the class, when known: lets the worker find it by class as a fallback. */
  classFile: string | undefined;
  /** Export name of the class in `classFile` (usually the class name). */
  classExport: string;
  className: string;
  /** File exporting the worker module: absolute path or file: URL. */
  moduleFile: string;
  moduleExport: string;
  moduleName: string;
  /** Transient providers are resolved with `resolve()` rather than `get()`. */
  transient: boolean;
  /**
   * Names this target in calls after the first, so that calls carry a short id rather than
   * every path again (copying them cost more than the rest of a call). Unique per process.
   */
  id: string;
}

export interface CallPayload {
  op: 'call';
  /** The target's id; a thread that has not seen it answers {@link UnknownTarget}. */
  id: string;
  /** The whole target, sent when a thread did not know the id. */
  target?: TargetRef;
  method: string;
  args: unknown[];
  /** Log levels of the worker context, sent with the whole target. */
  logger?: false | LogLevel[];
}

/** What a thread answers a call whose target id it has not seen: the caller resends it whole. */
export interface UnknownTarget {
  offthreadNestUnknownTarget: true;
}

export interface CheckPayload {
  op: 'check';
  module: Pick<TargetRef, 'moduleFile' | 'moduleExport' | 'moduleName'>;
  targets: Array<TargetRef & { methods: string[] }>;
  logger: false | LogLevel[];
}

export type WorkerPayload = CallPayload | CheckPayload;

/** Property the worker adds to an HttpException so the main thread can rebuild its class. */
export const kHttpChain = 'offthreadHttpExceptionChain';

/**
 * What the worker answers a call with: the result, and where in it class instances were (path
 * of keys, class name), so the main thread can restore the classes the app registered.
 */
export interface CallResult {
  offthreadNestResult: true;
  value: unknown;
  classes: Array<[path: Array<string | number>, className: string]> | undefined;
}

/** What `@OffThread()` records about each decorated method, on the class prototype. */
export interface DecoratedMethod {
  options: OffThreadOptions;
  /** The undecorated method, for the start-up checks. */
  original: (...args: unknown[]) => unknown;
}

export interface DecoratedClass {
  /** File of the class definition, from the stack when the decorator ran; undefined if unknown. */
  file: string | undefined;
  methods: Map<string, DecoratedMethod>;
}

/** The running module, as the decorator sees it (it may be another copy of this package). */
export interface OffThreadRuntime {
  call(
    instance: object,
    method: string,
    options: OffThreadOptions,
    args: unknown[],
  ): Promise<unknown>;
}

export interface RequestScope {
  /** Aborts when the client goes away; undefined when `abortOnDisconnect` is off. */
  signal: AbortSignal | undefined;
  /** Queue-wait bound of calls made for a request, unless the method sets its own. */
  queueTimeout: number;
}

interface SharedState {
  runtime: OffThreadRuntime | undefined;
  request: AsyncLocalStorage<RequestScope>;
  /** Prefix of target ids: distinct per process, since one remote worker may serve several. */
  idPrefix: string;
  nextId: number;
}

const key = Symbol.for('offthread.nestjs.state');

/**
 * State shared by every copy of this package in the process (the CJS and ESM builds can both
 * be loaded), so a decorator from one finds the module started by the other.
 */
export function sharedState(): SharedState {
  const g = globalThis as Record<symbol, SharedState | undefined>;
  let state = g[key];
  if (!state) {
    state = {
      runtime: undefined,
      request: new AsyncLocalStorage<RequestScope>(),
      idPrefix: `${process.pid.toString(36)}.${Math.random().toString(36).slice(2, 8)}.`,
      nextId: 0,
    };
    g[key] = state;
  }
  return state;
}
