/**
 * The worker entries of the offthread adapters, which a remote pool routes by package name and
 * version instead of by path. Their argument names the user's modules by absolute path (the
 * Express handler, the Nest classes); those paths are rewritten to root-relative ones on the
 * caller and resolved under the worker's own root (hash-checked) on the worker, so a job can
 * still only reach code under the worker's root. Only the fields listed here are rewritten.
 */

/**
 * Rewrites each module path in an adapter entry's argument with `map`. On the caller, `scope`
 * is the remote pool's unique id: ids an adapter makes unique per process are prefixed with it,
 * since the threads of one worker machine serve many caller processes.
 */
type MapPaths = (
  arg: unknown,
  name: string,
  map: (path: string) => string,
  scope?: string,
) => unknown;

export interface AdapterEntry {
  /** Paths inside the package that are worker entries. */
  entry: RegExp;
  mapPaths: MapPaths;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function mapField(
  obj: Record<string, unknown>,
  key: string,
  map: (path: string) => string,
): Record<string, unknown> {
  const value = obj[key];
  if (typeof value !== 'string') return obj;
  return { ...obj, [key]: map(value) };
}

/** Keyed by package name; a null prototype, as the key comes from a job. */
export const adapterEntries: Record<string, AdapterEntry> = Object.assign(Object.create(null), {
  '@offthread/express': {
    entry: /^dist\/dispatch\.(js|cjs|mjs)$/,
    // `check(filename)` and `dispatch({ f, r, c, i })`. The stream channel (`c`, `i`; `p`, a
    // MessagePort, in earlier versions) is local to the caller's process and cannot cross
    // machines: without it the dispatcher collects a streamed body and sends it in one piece.
    mapPaths(arg, name, map) {
      if (name === 'check') return typeof arg === 'string' ? map(arg) : arg;
      if (!isRecord(arg)) return arg;
      const { p: _port, c: _channel, i: _id, ...rest } = arg;
      return mapField(rest, 'f', map);
    },
  },
  '@offthread/nestjs': {
    entry: /^dist\/worker-entry\.(js|cjs|mjs)$/,
    // { op: 'call', target } and { op: 'check', module, targets[] }: classFile / moduleFile.
    // Target ids are unique per caller process only: scoped to the pool on the caller.
    mapPaths(arg, _name, map, scope) {
      if (!isRecord(arg)) return arg;
      const scoped = (obj: Record<string, unknown>) =>
        scope !== undefined && typeof obj.id === 'string'
          ? { ...obj, id: `${scope}/${obj.id}` }
          : obj;
      const target = (t: unknown) =>
        isRecord(t) ? scoped(mapField(mapField(t, 'classFile', map), 'moduleFile', map)) : t;
      const out: Record<string, unknown> = scoped({ ...arg });
      if (isRecord(arg.target)) out.target = target(arg.target);
      if (isRecord(arg.module)) out.module = mapField(arg.module, 'moduleFile', map);
      if (Array.isArray(arg.targets)) out.targets = arg.targets.map(target);
      return out;
    },
  },
} satisfies Record<string, AdapterEntry>);

/** The entry of the adapter package `name`, or undefined when `name` is not an adapter's. */
export function adapterEntry(name: string): AdapterEntry | undefined {
  return Object.hasOwn(adapterEntries, name) ? adapterEntries[name] : undefined;
}
