/**
 * One value per process, shared by every copy of a package that asks for `key`: the ESM and the
 * CommonJS build of one package can both load in one process (an app `import`s it, a dependency
 * `require`s it), and module-level state would then exist twice (two default pools, two
 * start-up registries). The value lives on `globalThis` under `Symbol.for(key)`.
 *
 * @param key a namespaced key such as `'offthread.express.default-pool'`.
 * @param create called once per process, by whichever copy asks first.
 */
export function processSingleton<T>(key: string, create: () => T): T {
  const symbol = Symbol.for(key);
  const scope = globalThis as Record<symbol, unknown>;
  if (!Object.hasOwn(scope, symbol)) {
    Object.defineProperty(scope, symbol, {
      value: create(),
      configurable: true,
      enumerable: false,
      writable: false,
    });
  }
  return scope[symbol] as T;
}
