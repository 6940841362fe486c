/**
 * Option checks both adapters share, with the same rules as the core, so that one value means
 * the same thing in `offThread()`, `@OffThread()`, `OffThreadModule` and `pool.run()`.
 *
 * Durations (`timeout`, `queueTimeout`): a number of milliseconds > 0 and at most 2^31-1 (the
 * most a Node timer can hold), or `Infinity` for no limit. `0` is rejected with a RangeError that
 * says to use `Infinity`: some libraries read 0 as "no limit" and others as "expire at once", so
 * neither reading is safe to guess.
 */

/** Largest delay a Node timer holds; larger values would silently become 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Defaults both adapters use for the options they share. */
export const defaultAdapterOptions = Object.freeze({
  /** Seconds sent in `Retry-After` with a 503. */
  retryAfter: 1,
  /**
   * Most ms a request's task may wait in the pool's queue before it starts; past it the client
   * gets a 503 with `Retry-After` (ERR_OFFTHREAD_QUEUE_TIMEOUT). Ten seconds: longer than any
   * healthy queue wait, shorter than the minute most load balancers and clients give up after.
   */
  queueTimeout: 10_000,
});

/** A short description of a bad value for an error message (never the value's full contents). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}

/**
 * Check a duration option: milliseconds > 0 and at most 2^31-1, or `Infinity` for no limit.
 *
 * @param path the option's name in messages, e.g. `offThread() options.timeout`.
 * @returns the value, or `undefined` when it is `undefined`.
 * @throws {TypeError} when it is not a number. @throws {RangeError} for 0, negatives and values
 *   a timer cannot hold.
 */
export function checkDurationOption(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(
      `${path} must be a number of milliseconds (or Infinity for no limit), got ${describeValue(value)}`,
    );
  }
  if (value === Number.POSITIVE_INFINITY) return value;
  if (value === 0) {
    throw new RangeError(`${path} must be > 0 ms, got 0. Use Infinity for no limit.`);
  }
  if (value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(
      `${path} must be a number of milliseconds > 0 and <= ${MAX_TIMER_MS} (about 24.8 days), or Infinity for no limit; got ${value}`,
    );
  }
  return value;
}

/**
 * Check `retryAfter`: a whole number of seconds >= 0 (the `Retry-After` header's syntax).
 * @throws {TypeError | RangeError} naming `path`.
 */
export function checkRetryAfterOption(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${path} must be a whole number of seconds, got ${describeValue(value)}`);
  }
  if (value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(`${path} must be a whole number of seconds >= 0, got ${value}`);
  }
  return value;
}

/**
 * Check a task priority: a finite number; higher runs first.
 * @throws {TypeError} naming `path`.
 */
export function checkPriorityOption(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(
      `${path} must be a finite number (higher runs first), got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Check a boolean option. @throws {TypeError} naming `path`. */
export function checkBooleanOption(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') {
    throw new TypeError(`${path} must be true or false, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Read an options bag once: `undefined` is an empty bag; anything but an object is a TypeError;
 * an own key not in `known` is a TypeError listing the known ones (a typo must not be silently
 * ignored). Only own properties are read, so a polluted prototype adds nothing.
 *
 * @param label the options' name in messages, e.g. `offThread() options`.
 * @returns a null-prototype snapshot holding the known keys that were set.
 */
export function readOptionBag<K extends string>(
  options: unknown,
  known: readonly K[],
  label: string,
): Partial<Record<K, unknown>> {
  const snapshot = Object.create(null) as Partial<Record<K, unknown>>;
  if (options === undefined) return snapshot;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${label} must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(known as readonly string[]).includes(key)) {
      throw new TypeError(`${label}.${key} is not an option. Known options: ${known.join(', ')}`);
    }
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) snapshot[key as K] = value;
  }
  return snapshot;
}
