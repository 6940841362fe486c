import {
  deserializeError as rebuildError,
  type SerializedError,
  serializeError as toData,
} from '../error-serialization.js';
import { OffThreadError } from '../index.js';

/**
 * The core's error serialization, for transports that carry task errors elsewhere than between
 * a pool and its threads (a queue to other machines, a socket): the same data, the same limits
 * and the same rebuild as a local pool, so an error class registered with the core's
 * `registerError()` arrives as an instance of that class, with its cause chain and properties.
 */
export type { SerializedError };

/**
 * Turn anything a task threw into plain, structured-clone data (also `v8.serialize`-able). Never
 * throws; bounded in size (causes, members, properties and text are capped, cycles are kept as
 * references).
 *
 * @param thrown any value: an Error, a primitive, a hostile object with throwing getters.
 * @returns data for {@link deserializeError} on the other side.
 */
export function serializeError(thrown: unknown): SerializedError {
  return toData(thrown);
}

/** Objects walked when fixing up a rebuilt error (the serializer keeps at most 256). */
const MAX_WALK = 1024;

/**
 * Rebuild an error from {@link serializeError}'s data as an instance of its class: registered
 * with `registerError()`, built-in, or `OffThreadError` (the class this package's main entry
 * exports, so `instanceof OffThreadError` holds). Never throws: malformed data becomes a plain
 * Error saying so.
 *
 * @param data what {@link serializeError} returned, possibly after a trip through JSON-free
 *   encodings (`v8.serialize`, structured clone).
 */
export function deserializeError(data: SerializedError): unknown {
  const error = rebuildError(data);
  adoptOffThreadErrors(data, error);
  return error;
}

/**
 * This entry is built as its own bundle, which holds its own copy of the serializer's
 * OffThreadError class; errors it rebuilds as OffThreadError are given the main entry's class.
 */
function adoptOffThreadErrors(data: SerializedError, error: unknown): void {
  const stack: [SerializedError | undefined, unknown][] = [[data, error]];
  for (let walked = 0; stack.length > 0 && walked < MAX_WALK; walked++) {
    const [d, e] = stack.pop() as [SerializedError | undefined, unknown];
    if (!d || d.primitive || d.ref !== undefined || e === null || typeof e !== 'object') continue;
    if (d.className === 'OffThreadError' && !(e instanceof OffThreadError)) {
      Object.setPrototypeOf(e, OffThreadError.prototype);
    }
    if (d.hasCause && d.cause) stack.push([d.cause, (e as { cause?: unknown }).cause]);
    const members = (e as { errors?: unknown }).errors;
    if (Array.isArray(d.errors) && Array.isArray(members)) {
      for (let i = 0; i < d.errors.length && i < MAX_WALK; i++)
        stack.push([d.errors[i], members[i]]);
    }
  }
}
