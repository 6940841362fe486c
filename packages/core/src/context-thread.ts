/**
 * Thread-side half of context propagation (the caller side is context.ts): run a task inside
 * the context that came with it. Only reached for tasks sent with RunFlag.Context.
 *
 * - Trace context: if this thread registered an OpenTelemetry context manager, the task runs
 *   inside `context.with()` of a context whose active span is the caller's (extracted by the
 *   thread's propagator when there is one, so baggage and tracestate come along), so spans
 *   started in the task are its children. Without OpenTelemetry in the thread, nothing happens.
 * - Carried values: each storage registered with `restoreCarry()` under a key that came with
 *   the task runs the task inside `storage.run(value)`, so `storage.getStore()` works in the
 *   thread as it did in the caller. All values are also readable as `currentTask().carried`.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import {
  type CarryOptions,
  type ContextCarrier,
  isValidSpanContext,
  kOtelApi,
  kOtelSpan,
  type OtelContext,
  type OtelGlobal,
  readCarryOption,
  Slot,
} from './context.js';
import { describe } from './options.js';
import { getWorkerState } from './worker-state.js';

/** `currentTask().carried` of a task that came without carried values. */
export const noCarriedValues: Readonly<Record<string, unknown>> = Object.freeze(
  Object.create(null),
);

/**
 * key -> storages registered with restoreCarry(), on globalThis: a task module may load the CJS
 * build of `@offthread/core/worker` while the runtime is the ESM build (or the other way round).
 * Bounded by the registrations the task code makes (a Set per key: registering twice is once).
 */
const kCarryRegistry = Symbol.for('offthread.worker.carry');

type Registry = Map<string, Set<AsyncLocalStorage<unknown>>>;

function registry(): Registry | undefined {
  return (globalThis as Record<symbol, Registry | undefined>)[kCarryRegistry];
}

/**
 * Register this thread's AsyncLocalStorage instances for the values the pool's `carry` option
 * sends, by the same keys: each task then runs inside `storage.run(value)`. Outside a pool
 * thread it only validates its argument, so a module shared by the caller and the tasks may
 * call it at top level.
 */
export function restoreCarry(storages: CarryOptions): void {
  const checked = readCarryOption(storages, describe, 'restoreCarry(storages): storages');
  if (checked === undefined || getWorkerState() === undefined) return;
  const g = globalThis as Record<symbol, Registry | undefined>;
  let map = g[kCarryRegistry];
  if (map === undefined) {
    map = new Map();
    g[kCarryRegistry] = map;
  }
  for (const key of Object.keys(checked)) {
    let set = map.get(key);
    if (set === undefined) {
      set = new Set();
      map.set(key, set);
    }
    set.add(checked[key] as AsyncLocalStorage<unknown>);
  }
}

type Entry = [storage: AsyncLocalStorage<unknown>, value: unknown];

/** Call `fn(task)` inside the context that came with the task. Errors of `fn` pass through. */
export function runInContext<T>(
  carrier: ContextCarrier,
  fn: (task: T) => unknown,
  task: T,
): unknown {
  const entries = carrier.length > Slot.Carried ? storesFor(carrier) : undefined;
  if (carrier[Slot.TraceId] !== undefined) {
    const api = (globalThis as Record<symbol, OtelGlobal | undefined>)[kOtelApi];
    const manager = api?.context;
    if (manager !== undefined) {
      const context = traceContext(api as OtelGlobal, manager.active(), carrier);
      if (context !== undefined)
        return manager.with(context, runWithStores, undefined, entries, 0, fn, task);
    }
  }
  return runWithStores(entries, 0, fn, task);
}

/** `currentTask().carried`: the carried values by key, built once per task on first read. */
export function carriedValues(
  carrier: ContextCarrier | undefined,
): Readonly<Record<string, unknown>> {
  if (carrier === undefined || carrier.length <= Slot.Carried) return noCarriedValues;
  let values = carriedCache.get(carrier);
  if (values === undefined) {
    const object: Record<string, unknown> = Object.create(null);
    for (let i = Slot.Carried; i < carrier.length; i += 2)
      object[carrier[i] as string] = carrier[i + 1];
    values = Object.freeze(object);
    carriedCache.set(carrier, values);
  }
  return values;
}

const carriedCache = new WeakMap<ContextCarrier, Readonly<Record<string, unknown>>>();

function storesFor(carrier: ContextCarrier): Entry[] | undefined {
  const map = registry();
  if (map === undefined) return undefined;
  let entries: Entry[] | undefined;
  for (let i = Slot.Carried; i < carrier.length; i += 2) {
    const storages = map.get(carrier[i] as string);
    if (storages === undefined) continue;
    entries ??= [];
    for (const storage of storages) entries.push([storage, carrier[i + 1]]);
  }
  return entries;
}

function runWithStores<T>(
  entries: Entry[] | undefined,
  index: number,
  fn: (task: T) => unknown,
  task: T,
): unknown {
  if (entries === undefined || index === entries.length) return fn(task);
  const [storage, value] = entries[index] as Entry;
  return storage.run(value, runWithStores, entries, index + 1, fn, task);
}

const headerGetter = {
  get(carrier: Record<string, string>, key: string): string | undefined {
    return Object.hasOwn(carrier, key) ? carrier[key] : undefined;
  },
  keys(carrier: Record<string, string>): string[] {
    return Object.keys(carrier);
  },
};

let warnedTrace = false;

/**
 * The context made for the last task that came with a span context and no headers: the tasks of
 * one request (a burst under one span) reuse it instead of building the same context again.
 */
let last:
  | {
      base: OtelContext;
      traceId: unknown;
      spanId: unknown;
      traceFlags: unknown;
      context: OtelContext;
    }
  | undefined;

/**
 * The caller's context as seen in this thread: what this thread's propagator extracts from the
 * caller's headers (baggage, tracestate), with the caller's span as the active span. The span
 * is set from the span context itself when no propagator (or a different one) is registered
 * here, so the parent is right whatever the thread configured.
 */
function traceContext(
  api: OtelGlobal,
  base: OtelContext,
  carrier: ContextCarrier,
): OtelContext | undefined {
  try {
    const traceId = carrier[Slot.TraceId] as string;
    const spanId = carrier[Slot.SpanId] as string;
    const traceFlags = carrier[Slot.TraceFlags] as number;
    const flat = carrier[Slot.Headers] as string[] | undefined;
    if (
      flat === undefined &&
      last !== undefined &&
      last.base === base &&
      last.traceId === traceId &&
      last.spanId === spanId &&
      last.traceFlags === traceFlags
    ) {
      return last.context;
    }
    let context = base;
    if (flat !== undefined && api.propagation !== undefined) {
      const headers: Record<string, string> = Object.create(null);
      for (let i = 0; i < flat.length; i += 2) headers[flat[i] as string] = flat[i + 1] as string;
      context = api.propagation.extract(context, headers, headerGetter);
    }
    const span = context.getValue(kOtelSpan) as { spanContext?: () => unknown } | undefined;
    const extracted = typeof span?.spanContext === 'function' ? span.spanContext() : undefined;
    if (
      !isValidSpanContext(extracted) ||
      extracted.spanId !== spanId ||
      extracted.traceId !== traceId
    ) {
      context = context.setValue(kOtelSpan, new RemoteSpan(traceId, spanId, traceFlags));
    }
    if (flat === undefined) last = { base, traceId, spanId, traceFlags, context };
    return context;
  } catch (error) {
    // Tracing must never fail a task: run it without the caller's context, say so once.
    if (!warnedTrace) {
      warnedTrace = true;
      process.emitWarning(
        `offthread: could not restore the caller's OpenTelemetry context in a worker thread (${(error as Error)?.message ?? error}); tasks run without it.`,
      );
    }
    return undefined;
  }
}

/**
 * The caller's span as a parent in this thread: it records nothing (it belongs to the caller,
 * which ends it), like the API's NonRecordingSpan, which the core cannot import.
 */
class RemoteSpan {
  private readonly context: {
    traceId: string;
    spanId: string;
    traceFlags: number;
    isRemote: true;
  };
  constructor(traceId: string, spanId: string, traceFlags: number) {
    this.context = { traceId, spanId, traceFlags, isRemote: true };
  }
  spanContext() {
    return this.context;
  }
  setAttribute() {
    return this;
  }
  setAttributes() {
    return this;
  }
  addEvent() {
    return this;
  }
  addLink() {
    return this;
  }
  addLinks() {
    return this;
  }
  setStatus() {
    return this;
  }
  updateName() {
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return false;
  }
  recordException(): void {}
}
