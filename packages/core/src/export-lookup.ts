/**
 * Which function of a task module a task name refers to. The name comes from the caller (often
 * from a request), so it must only ever reach what the module itself exports: a plain `ns[name]`
 * walks the prototype chain and turns 'constructor' into `Function` and 'toString',
 * 'hasOwnProperty' or '__proto__' into builtins.
 */

type TaskFunction = (...args: unknown[]) => unknown;

const isEnumerable = Object.prototype.propertyIsEnumerable;

/** The value of an own enumerable property, or undefined; never looks at the prototype chain. */
function ownExport(container: object, name: string): unknown {
  return isEnumerable.call(container, name)
    ? (container as Record<string, unknown>)[name]
    : undefined;
}

/**
 * The object a CommonJS module assigned to `module.exports`, which `import()` puts under the
 * namespace's `default`; undefined when there is none worth looking into.
 */
function commonJsExports(namespace: object): object | undefined {
  const exports = ownExport(namespace, 'default');
  if (exports === null || (typeof exports !== 'object' && typeof exports !== 'function')) {
    return undefined;
  }
  return exports;
}

/**
 * The function a task module exports under `name`, or undefined when it has none.
 *
 * Only the module's own exports count: the namespace's own properties, and, for CommonJS
 * interop, the own enumerable properties of `module.exports` (the namespace's `default`):
 * `exports.hash = ...` answers 'hash', and code compiled from ESM to CommonJS
 * (`exports.default = ...`) answers 'default'. Inherited properties (`constructor`,
 * `toString`, `__proto__`, ...) never match. Names are matched literally.
 *
 * @param namespace what `import()` of the task module resolved to
 * @param name the export name the caller asked for
 */
export function findExport(namespace: object, name: string): TaskFunction | undefined {
  const direct = ownExport(namespace, name);
  if (typeof direct === 'function') return direct as TaskFunction;
  const exports = commonJsExports(namespace);
  if (exports !== undefined) {
    const nested = ownExport(exports, name);
    if (typeof nested === 'function') return nested as TaskFunction;
  }
  return undefined;
}

/**
 * The names {@link findExport} would answer with a function, for "did you mean" messages:
 * the namespace's function exports, then those of `module.exports` not already listed.
 */
export function exportedFunctionNames(namespace: object): string[] {
  const names: string[] = [];
  const add = (container: object) => {
    for (const key of Object.keys(container)) {
      if (!names.includes(key) && isFunction(container, key)) names.push(key);
    }
  };
  add(namespace);
  const exports = commonJsExports(namespace);
  if (exports !== undefined) add(exports);
  return names;
}

/** Only used for messages: an export whose getter throws is simply not listed. */
function isFunction(container: object, key: string): boolean {
  try {
    return typeof (container as Record<string, unknown>)[key] === 'function';
  } catch {
    return false;
  }
}
