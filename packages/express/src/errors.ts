import { OffThreadError, OffThreadErrorCode } from '@offthread/core';
import type { HttpErrorFields } from '@offthread/core/adapter';

export type { HttpErrorFields };

/**
 * Find which part of a request snapshot cannot be copied to a thread, as a path like `body`,
 * `body.callback` or `locals.user`. Runs only after a failed send, so it costs nothing on the
 * way of a good request.
 */
export function findUncloneable(
  value: unknown,
  path: string,
  depth = 0,
): { path: string; value: unknown } | undefined {
  try {
    structuredClone(value);
    return undefined;
  } catch {
    if (depth < 4 && value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        const found = findUncloneable(
          (value as Record<string, unknown>)[key],
          Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`,
          depth + 1,
        );
        if (found) return found;
      }
    }
    return { path, value };
  }
}

/** What kind of value it is, without its contents (a function's source stays out of messages). */
function kindOf(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (value !== null && typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name ? `a ${name}` : 'an object that cannot be cloned';
  }
  return typeof value;
}

/**
 * The error for request data a thread cannot receive, naming the field (`req.body`,
 * `req.locals.user`) and what to do about it.
 */
export function uncloneableRequestError(
  snapshot: Record<string, unknown>,
  cause: unknown,
): OffThreadError | undefined {
  let found: { path: string; value: unknown } | undefined;
  for (const key of Object.keys(snapshot)) {
    found = findUncloneable(snapshot[key], key);
    if (found) break;
  }
  if (!found) return undefined;
  const field = found.path;
  const reason = `it is ${kindOf(found.value)}`;
  const hint = field.startsWith('locals')
    ? "Pick plain data in the route's locals option, e.g. locals: (req, res) => ({ userId: res.locals.user.id })"
    : 'Pass plain data (objects, arrays, strings, numbers, Buffers)';
  return new OffThreadError(
    OffThreadErrorCode.UNCLONEABLE,
    `offThread(): req.${field} cannot be copied to a worker thread (${reason}). ${hint}.`,
    { cause },
  );
}
