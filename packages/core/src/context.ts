/**
 * Caller-side half of context propagation: what crosses into a task besides its argument.
 *
 * Two things can cross, both in one flat array around the argument (a {@link ContextCarrier},
 * see protocol.ts RunFlag.Context), so any transport that carries a task's argument carries it
 * too:
 * - the caller's OpenTelemetry trace context, read from the API's global registration, so the
 *   core never imports `@opentelemetry/api` (an optional peer) and works without it;
 * - the current stores of the AsyncLocalStorage instances named by the pool's `carry` option.
 *
 * The thread-side half is context-thread.ts.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { OffThreadError, OffThreadErrorCode } from './errors.js';

/**
 * What crosses into a task with its argument, as one flat array (arrays of strings clone much
 * cheaper than nested objects): `[arg, traceId, spanId, traceFlags, headers, key, value, key,
 * value, ...]`. See {@link Slot}. The trace slots are `undefined` when no span crossed; `headers`
 * is `[name, value, ...]` of what the propagator wrote beyond `traceparent` (tracestate, baggage),
 * or `undefined`; the carried values follow as key/value pairs.
 */
export type ContextCarrier = unknown[];

/** Slots of a {@link ContextCarrier}. */
export const Slot = {
  Arg: 0,
  TraceId: 1,
  SpanId: 2,
  TraceFlags: 3,
  Headers: 4,
  /** First carried key; its value follows, then the next key. */
  Carried: 5,
} as const;

/** The AsyncLocalStorage instances whose stores cross into tasks, by the key they travel under. */
export type CarryOptions = Readonly<Record<string, AsyncLocalStorage<any>>>;

/**
 * Where `@opentelemetry/api` 1.x registers its globals (tracer provider, context manager,
 * propagator). Present only once something was registered: the mere import of the API adds
 * nothing, so a process without an OpenTelemetry SDK never gets past one property read.
 */
export const kOtelApi = Symbol.for('opentelemetry.js.api.1');
/** The API's context key for the active span (`createContextKey` is `Symbol.for`). */
export const kOtelSpan = Symbol.for('OpenTelemetry Context Key SPAN');

/** The parts of the API's global registration we use (stable across @opentelemetry/api 1.x). */
export interface OtelGlobal {
  context?: {
    active(): OtelContext;
    with<A extends unknown[], R>(
      context: OtelContext,
      fn: (...args: A) => R,
      thisArg?: unknown,
      ...args: A
    ): R;
  };
  propagation?: {
    inject(context: OtelContext, carrier: unknown, setter: unknown): void;
    extract(context: OtelContext, carrier: unknown, getter: unknown): OtelContext;
  };
}

export interface OtelContext {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): OtelContext;
}

interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const INVALID_TRACE_ID = '00000000000000000000000000000000';
const INVALID_SPAN_ID = '0000000000000000';

/** Lowercase hex of exactly `length` characters (a loop: a regular expression costs ~5x more). */
function isHex(value: string, length: number): boolean {
  if (value.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** Is this a span context worth propagating (what the API's isSpanContextValid checks)? */
export function isValidSpanContext(value: unknown): value is SpanContextLike {
  const sc = value as SpanContextLike | undefined;
  return (
    typeof sc?.traceId === 'string' &&
    typeof sc.spanId === 'string' &&
    sc.traceId !== INVALID_TRACE_ID &&
    sc.spanId !== INVALID_SPAN_ID &&
    isHex(sc.traceId, 32) &&
    isHex(sc.spanId, 16)
  );
}

/** The API's context key for baggage (`createContextKey` is `Symbol.for`). */
const kOtelBaggage = Symbol.for('OpenTelemetry Baggage Key');

const headerSetter = {
  set(carrier: Record<string, string>, key: string, value: string) {
    if (typeof key === 'string' && typeof value === 'string') carrier[key] = value;
  },
};

/**
 * The context to send with a task submitted now, or `undefined` when there is none. This is on
 * the hot path of every `run()`: without OpenTelemetry registered and without `carry`, it costs
 * one property read of a symbol on globalThis and two comparisons.
 *
 * @throws {OffThreadError} ERR_OFFTHREAD_UNCLONEABLE naming the `carry` key whose store cannot
 * be copied to a thread.
 */
export function captureContext(
  carry: CarryOptions | undefined,
  traceContext: boolean,
): ContextCarrier | undefined {
  const api = traceContext
    ? ((globalThis as Record<symbol, OtelGlobal | undefined>)[kOtelApi] ?? undefined)
    : undefined;
  if (api === undefined && carry === undefined) return undefined;
  return captureSlow(api, carry);
}

function captureSlow(
  api: OtelGlobal | undefined,
  carry: CarryOptions | undefined,
): ContextCarrier | undefined {
  const carrier = api === undefined ? undefined : captureTrace(api);
  return carry === undefined ? carrier : captureValues(carry, carrier);
}

let warnedTrace = false;
/** The last span context found valid (see captureTrace). */
let lastValid: unknown;

/** The active span's context, only when a context manager is registered and the span is valid. */
function captureTrace(api: OtelGlobal): ContextCarrier | undefined {
  const manager = api.context;
  if (manager === undefined) return undefined;
  try {
    const active = manager.active();
    const span = active?.getValue(kOtelSpan) as { spanContext?: () => unknown } | undefined;
    if (typeof span?.spanContext !== 'function') return undefined;
    const sc = span.spanContext();
    // Many tasks of one request share its span context: it is checked once.
    if (sc !== lastValid) {
      if (!isValidSpanContext(sc)) return undefined;
      lastValid = sc;
    }
    const { traceId, spanId, traceFlags } = sc as SpanContextLike;
    // Only tracestate and baggage need the propagator: the span context itself crosses anyway.
    const more =
      api.propagation !== undefined &&
      ((sc as { traceState?: unknown }).traceState !== undefined ||
        active.getValue(kOtelBaggage) !== undefined);
    return [
      undefined,
      traceId,
      spanId,
      typeof traceFlags === 'number' ? traceFlags : 0,
      more
        ? injectedHeaders(api.propagation as NonNullable<OtelGlobal['propagation']>, active)
        : undefined,
    ];
  } catch (error) {
    // Tracing must never fail a task: a broken propagator or context manager is reported once.
    if (!warnedTrace) {
      warnedTrace = true;
      process.emitWarning(
        `offthread: could not read the OpenTelemetry context to pass it to a task (${(error as Error)?.message ?? error}); tasks run without it. Set the pool option traceContext: false to stop trying.`,
      );
    }
    return undefined;
  }
}

/**
 * What the registered propagator writes that a span context alone does not carry (tracestate,
 * baggage, a vendor's own headers), as `[name, value, ...]`; `undefined` when it only wrote
 * `traceparent`, which the span context already says.
 */
function injectedHeaders(
  propagation: NonNullable<OtelGlobal['propagation']>,
  active: OtelContext,
): string[] | undefined {
  const headers: Record<string, string> = Object.create(null);
  propagation.inject(active, headers, headerSetter);
  let extra = false;
  const flat: string[] = [];
  for (const name of Object.keys(headers)) {
    if (name !== 'traceparent') extra = true;
    flat.push(name, headers[name] as string);
  }
  return extra ? flat : undefined;
}

/**
 * Append the current store of each carried storage, copied now: the task sees the values as they
 * were when it was submitted, even if it waits in the queue, and a store that cannot cross fails
 * this task with the key named, before anything is sent.
 */
function captureValues(
  carry: CarryOptions,
  carrier: ContextCarrier | undefined,
): ContextCarrier | undefined {
  const { keys, storages } = carried.get(carry) ?? entriesOf(carry);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const store = (storages[i] as AsyncLocalStorage<unknown>).getStore();
    if (store === undefined) continue;
    const type = typeof store;
    // Strings, numbers and booleans are copied as they are; anything else is checked now.
    const value =
      type === 'string' || type === 'number' || type === 'boolean' ? store : copy(key, store);
    if (carrier === undefined)
      carrier = [undefined, undefined, undefined, undefined, undefined, key, value];
    else carrier.push(key, value);
  }
  return carrier;
}

/**
 * The keys and storages of each validated `carry` object, as arrays: walking a null-prototype
 * object key by key on every task costs several times more.
 */
const carried = new WeakMap<
  CarryOptions,
  { keys: string[]; storages: AsyncLocalStorage<unknown>[] }
>();

function entriesOf(carry: CarryOptions): {
  keys: string[];
  storages: AsyncLocalStorage<unknown>[];
} {
  const keys = Object.keys(carry);
  const entries = { keys, storages: keys.map((key) => carry[key] as AsyncLocalStorage<unknown>) };
  carried.set(carry, entries);
  return entries;
}

function copy(key: string, store: unknown): unknown {
  try {
    return structuredClone(store);
  } catch (error) {
    throw new OffThreadError(
      OffThreadErrorCode.UNCLONEABLE,
      `The store of options.carry.${key} could not be copied to the worker thread: ${(error as Error)?.message ?? error}. Carry plain data (an id, an object of strings and numbers), not functions, loggers or class instances with methods; build those in the thread from the carried data.`,
      { cause: error },
    );
  }
}

/** Is it an AsyncLocalStorage (from any copy of node:async_hooks)? */
function isStorage(value: unknown): value is AsyncLocalStorage<unknown> {
  const v = value as AsyncLocalStorage<unknown> | undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.getStore === 'function' &&
    typeof v.run === 'function'
  );
}

/**
 * Validate the pool's `carry` option: an object of AsyncLocalStorage instances. Returns a frozen
 * copy with a null prototype (keys are the user's: `__proto__` is a key like any other), or
 * `undefined` for an empty object (nothing to carry, nothing to do per task).
 *
 * @throws {TypeError} naming `options.carry` or `options.carry.<key>` and how to fix it.
 */
export function readCarryOption(
  value: unknown,
  describe: (v: unknown) => string,
  path = 'options.carry',
): CarryOptions | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || isStorage(value)) {
    throw new TypeError(
      `${path} must be an object naming AsyncLocalStorage instances by key, like { requestId: requestIdStorage }, got ${describe(value)}`,
    );
  }
  const out: Record<string, AsyncLocalStorage<unknown>> = Object.create(null);
  for (const key of Object.keys(value)) {
    const storage = (value as Record<string, unknown>)[key];
    if (!isStorage(storage)) {
      throw new TypeError(
        `${path}.${key} must be an AsyncLocalStorage (new AsyncLocalStorage() from node:async_hooks), got ${describe(storage)}`,
      );
    }
    out[key] = storage;
  }
  return Object.keys(out).length === 0 ? undefined : Object.freeze(out);
}

/**
 * The argument as it travels with its context (the thread unwraps it when RunFlag.Context is
 * set). The carrier is used in place: a broadcast sends the same argument to every thread.
 */
export function wrapArgument(arg: unknown, carrier: ContextCarrier): unknown {
  carrier[Slot.Arg] = arg;
  return carrier;
}
