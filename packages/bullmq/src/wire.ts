import { deserialize, serialize } from 'node:v8';
import * as core from '@offthread/core';
import { OffThreadError } from '@offthread/core';

/**
 * What crosses Redis. Arguments and results are encoded with `v8.serialize` (the structured
 * clone types: Dates, Maps, Sets, typed arrays, BigInts, errors, cycles) and carried as base64
 * inside BullMQ's JSON job data and return value.
 */

/** The job data of one task. Short keys: it is written to Redis per task. */
export interface JobData {
  /** Wire format version. */
  v: 1;
  /** The task module. */
  m: ModuleRef;
  /** Export to call (or, for a preload, the exports to check). */
  n: string | string[];
  /** The encoded argument (base64 of v8.serialize), absent for `undefined`. */
  a?: string;
  /** Running-time timeout in ms. */
  t?: number;
  /** Deadline to start by, as epoch ms on the caller's clock. */
  d?: number;
  /** Files named inside the argument of an adapter entry: root-relative path -> content hash. */
  f?: Record<string, string>;
  /** A preload (load and check exports) rather than a call. */
  p?: 1;
  /** The argument is an array of arguments to spread (a `proxy()` call). */
  s?: 1;
  /** The caller listens for progress: the worker reports it through BullMQ's job progress. */
  g?: 1;
}

/**
 * The one key of a progress report's object in BullMQ (`job.progress`, the 'progress' event):
 * the base64 of the v8-encoded value, so any structured-clone value crosses.
 */
export const PROGRESS_KEY = 'offthread';

/** A task module, named so that any worker can find its own copy. */
export type ModuleRef =
  /** A file under `root`: its root-relative path ('/' separators) and content hash. */
  | { k: 'f'; p: string; h: string }
  /** An entry of an installed @offthread/* adapter package: package name, version, path inside it. */
  | { k: 'p'; n: string; v: string; p: string };

/** The outcome of a task as the worker reports it. */
export type Outcome = { ok: true; v: unknown } | { ok: false; e: SerializedError };

/** Same shape as the core's serialized errors, so both sides agree on what survives. */
export interface SerializedError {
  primitive?: true;
  value?: unknown;
  className: string;
  name: string;
  message: string;
  stack?: string;
  cause?: SerializedError;
  hasCause?: boolean;
  errors?: SerializedError[];
  props: Record<string, unknown>;
}

export function encode(value: unknown): Buffer {
  return serialize(value);
}

export function decode<T>(data: Buffer): T {
  return deserialize(data) as T;
}

export function encodeOutcome(outcome: Outcome): string {
  try {
    return serialize(outcome).toString('base64');
  } catch (error) {
    if (!outcome.ok) throw error;
    return serialize({
      ok: false,
      e: serializeError(
        new OffThreadError(
          'ERR_OFFTHREAD_UNCLONEABLE',
          `The task's result could not be encoded to send it back through Redis: ${(error as Error).message}`,
          { cause: error },
        ),
      ),
    } satisfies Outcome).toString('base64');
  }
}

export function decodeOutcome(text: string): Outcome {
  return deserialize(Buffer.from(text, 'base64')) as Outcome;
}

const builtinNames = new Set([
  'Error',
  'TypeError',
  'RangeError',
  'SyntaxError',
  'ReferenceError',
  'EvalError',
  'URIError',
  'AggregateError',
]);
const builtinErrors: Record<string, new (message?: string) => Error> = Object.assign(
  Object.create(null),
  {
    Error,
    TypeError,
    RangeError,
    SyntaxError,
    ReferenceError,
    EvalError,
    URIError,
    AggregateError,
  },
);
const skipped = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/**
 * Error classes registered on the caller's side. Global so the ESM and CJS builds of this
 * package share it.
 */
const kRegistry = Symbol.for('offthread.bullmq.errors');
type ErrorClass = new (...args: any[]) => Error;
const shared = globalThis as unknown as Record<symbol, Map<string, ErrorClass> | undefined>;
if (!shared[kRegistry]) {
  shared[kRegistry] = new Map<string, ErrorClass>([
    ['OffThreadError', OffThreadError as ErrorClass],
  ]);
}
const registry = shared[kRegistry];

/**
 * Make errors of class `ErrorClass` thrown by remote tasks arrive as instances of that class
 * (matched by constructor name, or by `error.name` when the worker process did not know the
 * class). Also registers it with the core, so local pools rebuild it too.
 */
export function registerError(ErrorClass: new (...args: any[]) => Error): void {
  core.registerError(ErrorClass);
  registry.set(ErrorClass.name, ErrorClass);
}

function cloneable(value: unknown): boolean {
  const type = typeof value;
  if (type === 'function' || type === 'symbol') return false;
  if (value === null || type !== 'object') return true;
  try {
    serialize(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Turn anything a task threw into plain data. The worker process receives errors already rebuilt
 * by its local pool; when their class was not registered there they are plain `Error`s named
 * after the class, so the name stands in for the class name.
 */
export function serializeError(thrown: unknown, depth = 0): SerializedError {
  if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) {
    return {
      primitive: true,
      value: thrown,
      className: '',
      name: '',
      message: String(thrown),
      props: {},
    };
  }
  const error = thrown as Error & { errors?: unknown[] };
  const name = String(error.name ?? 'Error');
  let className = String(error.constructor?.name ?? 'Error');
  if (builtinNames.has(className) && name !== className && !builtinNames.has(name))
    className = name;
  const out: SerializedError = {
    className,
    name,
    message: String(error.message ?? ''),
    stack: typeof error.stack === 'string' ? error.stack : undefined,
    props: {},
  };
  for (const key of Object.keys(error)) {
    if (skipped.has(key)) continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    if (cloneable(value)) out.props[key] = value;
  }
  if (depth < 8 && 'cause' in error) {
    out.hasCause = true;
    out.cause = serializeError(error.cause, depth + 1);
  }
  if (depth < 8 && Array.isArray(error.errors)) {
    out.errors = error.errors.map((member) => serializeError(member, depth + 1));
  }
  return out;
}

/** Rebuild an error on the caller's side as an instance of its registered or built-in class. */
export function deserializeError(data: SerializedError): unknown {
  if (data.primitive) return data.value;
  const ErrorClass = registry.get(data.className) ?? builtinErrors[data.className];
  const error = Object.create((ErrorClass ?? builtinErrors[data.name] ?? Error).prototype) as Error;
  define(error, 'message', data.message);
  if (!ErrorClass || error.name !== data.name) define(error, 'name', data.name);
  define(error, 'stack', data.stack ?? `${data.name}: ${data.message}`);
  if (data.hasCause && data.cause) define(error, 'cause', deserializeError(data.cause));
  if (data.errors)
    define(
      error,
      'errors',
      data.errors.map((member) => deserializeError(member)),
    );
  for (const key of Object.keys(data.props)) {
    // Own data properties only: a key such as __proto__ must not reach the prototype.
    Object.defineProperty(error, key, {
      value: data.props[key],
      writable: true,
      configurable: true,
      enumerable: true,
    });
  }
  return error;
}

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
