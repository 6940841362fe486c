import { OffThreadError } from './errors.js';

/**
 * Errors cross the thread boundary as plain data and are rebuilt on the caller's side. The
 * structured clone of an Error keeps only name, message and stack; users need the class, the
 * cause chain and own properties such as `code` or `status` (HTTP libraries switch on them).
 */
export interface SerializedError {
  /** Marks a thrown value that was not an object: it is carried as-is in `value`. */
  primitive?: true;
  value?: unknown;
  className: string;
  name: string;
  message: string;
  stack?: string;
  cause?: SerializedError;
  hasCause?: boolean;
  /** AggregateError's members. */
  errors?: SerializedError[];
  props: Record<string, unknown>;
}

const builtinErrors: Record<string, new (message?: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError: AggregateError as unknown as new (message?: string) => Error,
};

const registry = new Map<string, new (...args: any[]) => Error>([
  ['OffThreadError', OffThreadError as new (...args: any[]) => Error],
]);

const skippedProps = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/**
 * Make errors of class `ErrorClass` thrown in a task arrive as instances of that class
 * (`instanceof` works). Call it on the side that awaits `pool.run()`; classes are matched by
 * constructor name, so two registered classes must not share a name. Built-in error classes
 * need no registration.
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

/** Turn anything thrown into cloneable data. Runs on the thread that caught it. */
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
  const out: SerializedError = {
    className: error.constructor?.name ?? 'Error',
    name: String(error.name ?? 'Error'),
    message: String(error.message ?? ''),
    stack: typeof error.stack === 'string' ? error.stack : undefined,
    props: {},
  };
  for (const key of Object.keys(error)) {
    if (skippedProps.has(key)) continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    if (isCloneable(value)) out.props[key] = value;
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

/** Rebuild an error on the caller's side, as an instance of its registered or built-in class. */
export function deserializeError(data: SerializedError): unknown {
  if (data.primitive) return data.value;
  const ErrorClass = registry.get(data.className) ?? builtinErrors[data.className];
  const error: Error = ErrorClass
    ? (Object.create(ErrorClass.prototype) as Error)
    : (Object.create((builtinErrors[data.name] ?? Error).prototype) as Error);
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
  for (const [key, value] of Object.entries(data.props)) {
    (error as unknown as Record<string, unknown>)[key] = value;
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
