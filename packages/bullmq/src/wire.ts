import { deserialize, serialize } from 'node:v8';
import * as core from '@offthread/core';
import { OffThreadError } from '@offthread/core';
import {
  deserializeError as fromData,
  type SerializedError,
  serializeError as toData,
} from '@offthread/core/adapter';

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
  /**
   * The caller's id: it also listens for the result on its own pub/sub channel, which the worker
   * publishes to as soon as the task settles (see serve()). Absent: the event stream only.
   */
  r?: string;
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

/** A task's error as data: the core's own serialized form (see `@offthread/core/adapter`). */
export type { SerializedError };

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

/**
 * Make errors of class `ErrorClass` thrown by remote tasks arrive as instances of that class.
 * The same as the core's `registerError()` (a class registered there works remotely too), kept
 * so code written against this package goes on working.
 */
export function registerError(ErrorClass: new (...args: any[]) => Error): void {
  core.registerError(ErrorClass);
}

/** Objects looked at when renaming classes (the core's serializer keeps at most 256). */
const MAX_WALK = 1024;

/**
 * Worker side: what a task threw, as the core's serialized data. The worker process receives
 * errors already rebuilt by its local pool; a class not registered there came back as the
 * built-in class its name suggests (`Error`), so the error's name (`ValidationError`) stands in
 * for the class name, letting the caller rebuild the class it registered.
 */
export function serializeError(thrown: unknown): SerializedError {
  const data = toData(thrown);
  const stack: (SerializedError | undefined)[] = [data];
  for (let walked = 0; stack.length > 0 && walked < MAX_WALK; walked++) {
    const d = stack.pop();
    if (!d || d.primitive || d.ref !== undefined) continue;
    if (
      d.className !== undefined &&
      builtinNames.has(d.className) &&
      typeof d.name === 'string' &&
      d.name !== d.className &&
      !builtinNames.has(d.name)
    ) {
      d.className = d.name;
    }
    if (d.cause) stack.push(d.cause);
    if (d.errors) stack.push(...d.errors.slice(0, MAX_WALK));
  }
  return data;
}

/** Caller side: rebuild the error with the core's rules (registered classes, built-ins). */
export function deserializeError(data: SerializedError): unknown {
  return fromData(data);
}
