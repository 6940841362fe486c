import { OffThreadError } from './errors.js';

/**
 * Errors cross the thread boundary as plain data and are rebuilt on the caller's side. The
 * structured clone of an Error keeps only name, message and stack; users need the class, the
 * cause chain and own properties such as `code` or `status` (HTTP libraries switch on them).
 *
 * What a task throws is untrusted: any value, with any names, getters that throw, and cycles.
 * Serializing must never throw (it runs on the thread's failure path: a throw there kills the
 * thread) and must stay bounded; rebuilding must never throw either (it runs in the caller's
 * thread) and must not let a name reach a prototype.
 */
export interface SerializedError {
  /** A thrown value that is not an object (a string, a number, undefined...), carried in `value`. */
  primitive?: true;
  value?: unknown;
  /** A thrown symbol cannot be cloned: its description (and registry key) are sent instead. */
  symbol?: { description: string | undefined; key: string | undefined };
  /** An object that already appears earlier in the same serialization (a cycle, a shared member): its `id`. */
  ref?: number;
  /** Index of this object within one serialization (-1 for notes offthread adds). */
  id?: number;
  className?: string;
  name?: string;
  message?: string;
  stack?: string;
  /** The error had a `cause` property (even `undefined`); `cause` is its value when it could be read. */
  hasCause?: boolean;
  cause?: SerializedError;
  /** AggregateError's members. */
  errors?: SerializedError[];
  /**
   * Own enumerable properties as `[key, value, key, value, ...]`: a list rather than an object,
   * so a key named '__proto__' stays a key on both sides.
   */
  props?: unknown[];
}

/** The shape of an error object (not a primitive, not a reference). */
interface SerializedObject extends SerializedError {
  id: number;
  className: string;
  name: string;
  message: string;
  props: unknown[];
}

/** Cause levels kept per chain: the first MAX_CAUSE_LEVELS - 1 and the root cause. */
const MAX_CAUSE_LEVELS = 16;
/** How far a cause chain is followed to find its root. */
const MAX_CAUSE_WALK = 1_000_000;
/** Members kept per AggregateError. */
const MAX_MEMBERS = 100;
/** Objects serialized for one thrown value, across causes and members. */
const MAX_OBJECTS = 256;
/** Own properties kept per error. */
const MAX_PROPS = 64;
/** Characters of messages and stacks, all together, for one thrown value. */
const MAX_TEXT = 1_000_000;

type ErrorClass = new (...args: any[]) => Error;

/** Built-in classes by name, without a prototype: `builtinErrors.toString` is undefined. */
const builtinErrors: Record<string, ErrorClass> = Object.assign(Object.create(null), {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
});

/**
 * Registered classes, shared by every copy of this package in the process (the ESM and the CJS
 * build can both be loaded): a class registered through one copy is found by a pool of the
 * other. A Map, so no class name can reach a prototype.
 */
const registryKey = Symbol.for('offthread.errors.registry');
const scope = globalThis as Record<symbol, unknown>;
if (!(scope[registryKey] instanceof Map)) scope[registryKey] = new Map<string, ErrorClass>();
const registry = scope[registryKey] as Map<string, ErrorClass>;

const skippedProps = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/**
 * Make errors of class `ErrorClass` thrown in a task arrive as instances of that class
 * (`instanceof` works). Call it on the side that awaits `pool.run()`; classes are matched by
 * constructor name, so two registered classes must not share a name. Built-in error classes
 * need no registration. The registry is process-wide: it is shared by the ESM and CommonJS
 * builds of this package.
 *
 * @throws {TypeError} when `ErrorClass` is not a subclass of Error.
 */
export function registerError(ErrorClass: new (...args: any[]) => Error): void {
  if (
    typeof ErrorClass !== 'function' ||
    !(ErrorClass.prototype instanceof Error || ErrorClass === Error)
  ) {
    throw new TypeError(
      'registerError(ErrorClass) expects an Error subclass (a class that extends Error)',
    );
  }
  registry.set(ErrorClass.name, ErrorClass);
}

// ---- the thread's side -----------------------------------------------------------------------

const unreadable = Symbol('unreadable');

/** `target[key]`, or `unreadable` when a getter (or a Proxy trap) throws. */
function read(target: object, key: PropertyKey): unknown {
  try {
    return (target as Record<PropertyKey, unknown>)[key];
  } catch {
    return unreadable;
  }
}

/** String(value) that cannot throw (a value whose toString throws is described instead). */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return String(value);
  } catch {
    return `[${typeof value} that cannot be converted to a string]`;
  }
}

function isCloneable(value: unknown): boolean {
  const type = typeof value;
  if (type === 'function' || type === 'symbol') return false;
  if (value === null || type !== 'object') return true;
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

interface Walk {
  seen: Map<object, number>;
  objects: number;
  text: number;
}

/**
 * Turn anything thrown into cloneable data. Runs on the thread that caught it and never throws:
 * what cannot be read is left out or described.
 */
export function serializeError(thrown: unknown): SerializedError {
  try {
    return serialize(thrown, { seen: new Map(), objects: 0, text: MAX_TEXT }, 0);
  } catch {
    return note('The task threw a value that could not be read');
  }
}

/** An error offthread adds to say what it left out. */
function note(message: string): SerializedObject {
  return { id: -1, className: 'Error', name: 'Error', message, props: [] };
}

function serialize(thrown: unknown, walk: Walk, causeLevel: number): SerializedError {
  if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) {
    if (typeof thrown === 'symbol') {
      return {
        primitive: true,
        value: undefined,
        symbol: { description: thrown.description, key: Symbol.keyFor(thrown) },
      };
    }
    return { primitive: true, value: thrown };
  }
  const ref = walk.seen.get(thrown);
  if (ref !== undefined) return { ref };
  if (walk.objects >= MAX_OBJECTS) {
    return note(`An error was omitted: the thrown value holds more than ${MAX_OBJECTS} errors`);
  }
  const id = walk.objects++;
  walk.seen.set(thrown, id);

  const ctor = read(thrown, 'constructor');
  const ctorName = typeof ctor === 'function' ? read(ctor, 'name') : undefined;
  const className = typeof ctorName === 'string' ? ctorName : 'Error';
  const name = read(thrown, 'name');
  const message = read(thrown, 'message');
  const stack = read(thrown, 'stack');
  const out: SerializedObject = {
    id,
    className,
    name:
      name === unreadable || name === undefined || name === null
        ? className === 'Object'
          ? 'Error'
          : className
        : text(name),
    message:
      message === unreadable
        ? "(the error's message could not be read: its getter threw)"
        : message === undefined || message === null
          ? ''
          : clip(text(message), walk),
    props: [],
  };
  if (typeof stack === 'string') out.stack = clip(stack, walk);

  let keys: string[] = [];
  try {
    keys = Object.keys(thrown);
  } catch {}
  for (let i = 0, kept = 0; i < keys.length && kept < MAX_PROPS; i++) {
    const key = keys[i] as string;
    if (skippedProps.has(key)) continue;
    const value = read(thrown, key);
    if (value !== unreadable && isCloneable(value)) {
      out.props.push(key, value);
      kept++;
    }
  }

  let hasCause = false;
  try {
    hasCause = 'cause' in thrown;
  } catch {}
  if (hasCause) {
    out.hasCause = true;
    const cause = read(thrown, 'cause');
    if (cause !== unreadable) out.cause = serializeCause(cause, walk, causeLevel + 1);
  }

  const errors = read(thrown, 'errors');
  let isList = false;
  try {
    isList = Array.isArray(errors);
  } catch {}
  if (isList) {
    const list = errors as unknown[];
    const length = read(list, 'length');
    const total = typeof length === 'number' ? length : 0;
    const members: SerializedError[] = [];
    const count = Math.min(total, MAX_MEMBERS);
    for (let i = 0; i < count && walk.objects < MAX_OBJECTS; i++) {
      members.push(serialize(read(list, i), walk, 0));
    }
    if (members.length < total) {
      members.push(
        note(`${total - members.length} more errors were omitted from this AggregateError`),
      );
    }
    out.errors = members;
  }
  return out;
}

/**
 * The cause at `level` of a chain. Past MAX_CAUSE_LEVELS - 1 levels the rest of the chain is
 * skipped up to its root cause, which is usually what explains the failure; a note in between
 * says how many levels were left out.
 */
function serializeCause(cause: unknown, walk: Walk, level: number): SerializedError {
  if (level < MAX_CAUSE_LEVELS - 1) return serialize(cause, walk, level);
  if (level === Number.POSITIVE_INFINITY) {
    return note('The rest of the cause chain was omitted: it is too long or loops');
  }
  let root = cause;
  let skipped = 0;
  // Brent's loop detection: a checkpoint moved at powers of two finds a loop in O(1) memory.
  let checkpoint: unknown;
  let stepsSinceCheckpoint = 0;
  let power = 1;
  let looped = false;
  while (skipped < MAX_CAUSE_WALK) {
    if (root === null || (typeof root !== 'object' && typeof root !== 'function')) break;
    if (root === checkpoint || walk.seen.has(root)) {
      looped = true;
      break;
    }
    let next: unknown = unreadable;
    try {
      if ('cause' in root) next = read(root, 'cause');
    } catch {}
    if (next === unreadable) break;
    if (++stepsSinceCheckpoint === power) {
      checkpoint = root;
      power *= 2;
      stepsSinceCheckpoint = 0;
    }
    root = next;
    skipped++;
  }
  if (skipped === 0) return serialize(cause, walk, level);
  const omitted = `${skipped} intermediate cause${skipped === 1 ? ' was' : 's were'} omitted`;
  const gap = note(
    looped
      ? `${omitted}; the cause chain loops back to the next cause`
      : skipped >= MAX_CAUSE_WALK
        ? `${omitted}; the cause chain goes on past the next cause`
        : `${omitted}; the next cause is the root cause`,
  );
  gap.hasCause = true;
  // The root is serialized as the last level: should it still have a cause (the walk ended on a
  // loop or its bound), that cause becomes a note instead of another walk.
  gap.cause = serialize(root, walk, Number.POSITIVE_INFINITY);
  return gap;
}

function clip(value: string, walk: Walk): string {
  if (value.length <= walk.text) {
    walk.text -= value.length;
    return value;
  }
  const kept = value.slice(0, Math.max(0, walk.text));
  walk.text = 0;
  return `${kept}… [${value.length - kept.length} characters omitted]`;
}

// ---- the caller's side -----------------------------------------------------------------------

/**
 * Rebuild an error on the caller's side, as an instance of its registered or built-in class.
 * Never throws: malformed data becomes a plain Error saying so.
 */
export function deserializeError(data: SerializedError): unknown {
  try {
    return rebuild(data, []);
  } catch (error) {
    return new Error(
      `A task failed, but its error could not be rebuilt in this thread: ${text((error as Error)?.message)}`,
    );
  }
}

function rebuild(data: SerializedError, built: unknown[]): unknown {
  if (data.primitive) {
    const symbol = data.symbol;
    if (symbol)
      return symbol.key !== undefined ? Symbol.for(symbol.key) : Symbol(symbol.description);
    return data.value;
  }
  if (data.ref !== undefined) return built[data.ref];
  return rebuildObject(data as SerializedObject, built);
}

function rebuildObject(data: SerializedObject, built: unknown[]): Error {
  const error = create(data);
  if (data.id >= 0) built[data.id] = error;
  // read(): a registered class may have getters that throw on an instance it did not construct.
  if (read(error, 'message') !== data.message) define(error, 'message', data.message, false);
  if (read(error, 'name') !== data.name) define(error, 'name', data.name, false);
  define(error, 'stack', data.stack ?? `${data.name}: ${data.message}`, false);
  if (data.hasCause) define(error, 'cause', data.cause && rebuild(data.cause, built), false);
  if (data.errors) {
    define(
      error,
      'errors',
      data.errors.map((member) => rebuild(member, built)),
      false,
    );
  }
  const props = data.props ?? [];
  for (let i = 0; i + 1 < props.length; i += 2) {
    // defineProperty, not assignment: a key named '__proto__' must stay a plain property.
    define(error, props[i] as string, props[i + 1], true);
  }
  return error;
}

function create(data: SerializedObject): Error {
  const { className, name } = data;
  if (className === 'OffThreadError') {
    // This copy's class (not a registry entry another copy of the package may have made), so
    // `instanceof OffThreadError` holds for the package the caller imported.
    return Object.create(OffThreadError.prototype) as Error;
  }
  const Registered = registry.get(className);
  if (Registered) return Object.create(Registered.prototype) as Error;
  if (Object.hasOwn(builtinErrors, className)) {
    return Object.create((builtinErrors[className] as ErrorClass).prototype) as Error;
  }
  if (className === 'DOMException' && typeof DOMException === 'function') {
    // Its name, message and code are getters over internal state: it must be constructed.
    return new DOMException(data.message, name) as Error;
  }
  // An unregistered class: the closest built-in, by the error's name.
  const Builtin = Object.hasOwn(builtinErrors, name) ? builtinErrors[name] : Error;
  return Object.create((Builtin as ErrorClass).prototype) as Error;
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable });
}
