/**
 * Structured clone keeps an object's own data but not its class. The worker records where class
 * instances sit in a result; the main thread gives back the prototype of the classes the app
 * registered (`classes` option), so `ClassSerializerInterceptor`'s `@Exclude()` and `instanceof`
 * see them as if the method had run inline.
 */

type Path = Array<string | number>;

/** Prototypes that structured clone recreates by itself, or that are not worth marking. */
function isPlainPrototype(proto: object | null): boolean {
  return proto === null || proto === Object.prototype || proto === Array.prototype;
}

/** A node still to visit, with how it was reached (the path is built only for class instances). */
interface Pending {
  node: object;
  parent: Pending | undefined;
  key: string | number;
}

function pathOf(entry: Pending): Path {
  const path: Path = [];
  for (let e: Pending | undefined = entry; e?.parent !== undefined; e = e.parent) path.push(e.key);
  return path.reverse();
}

/**
 * Where instances of user classes are in `value`: plain objects and arrays are walked, built-ins
 * that structured clone restores itself (Date, Map, typed arrays, errors...) are left alone.
 * The whole result is walked, however large or deep (structured clone walks it anyway): an
 * instance left unmarked would arrive as a plain object, and `@Exclude()` would no longer hide
 * its fields. Iterative, so depth cannot overflow the stack; each object is visited once.
 */
export function findClassInstances(value: unknown): Array<[Path, string]> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  // The common case, a plain object of primitives, without allocating.
  if (Object.getPrototypeOf(value) === Object.prototype) {
    let flat = true;
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== null && typeof item === 'object') {
        flat = false;
        break;
      }
    }
    if (flat) return undefined;
  }
  let found: Array<[Path, string]> | undefined;
  const seen = new Set<object>();
  const stack: Pending[] = [{ node: value, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const { node } = entry;
    if (seen.has(node)) continue;
    seen.add(node);
    const proto = Object.getPrototypeOf(node) as object | null;
    if (!isPlainPrototype(proto)) {
      const name = userClassName(node, proto!);
      if (name === undefined) continue;
      found ??= [];
      found.push([pathOf(entry), name]);
    }
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) {
        const item = node[i] as unknown;
        if (item !== null && typeof item === 'object')
          stack.push({ node: item, parent: entry, key: i });
      }
      continue;
    }
    const keys = Object.keys(node);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const item = (node as Record<string, unknown>)[key];
      if (item !== null && typeof item === 'object') stack.push({ node: item, parent: entry, key });
    }
  }
  return found;
}

/** The class name of an instance of a user class, or undefined for built-ins. */
function userClassName(node: object, proto: object): string | undefined {
  if (
    ArrayBuffer.isView(node) ||
    node instanceof ArrayBuffer ||
    node instanceof Date ||
    node instanceof RegExp ||
    node instanceof Map ||
    node instanceof Set ||
    node instanceof Error ||
    (typeof SharedArrayBuffer !== 'undefined' && node instanceof SharedArrayBuffer)
  ) {
    return undefined;
  }
  const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
  const name = typeof ctor === 'function' ? ctor.name : undefined;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * Give the objects at `classes`' paths the prototype of the registered class of that name.
 * Returns the names that were not registered (their objects stay plain).
 */
export function restoreClassInstances(
  value: unknown,
  classes: Array<[Path, string]>,
  registry: ReadonlyMap<string, Function>,
): string[] {
  const missing: string[] = [];
  for (const [path, name] of classes) {
    let node = value as Record<string | number, unknown> | undefined;
    for (const key of path) {
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) {
        node = undefined;
        break;
      }
      node = node[key] as Record<string | number, unknown> | undefined;
    }
    if (node === null || node === undefined || typeof node !== 'object') continue;
    const Class = registry.get(name);
    if (Class === undefined) {
      if (!missing.includes(name)) missing.push(name);
      continue;
    }
    Object.setPrototypeOf(node, Class.prototype);
  }
  return missing;
}
