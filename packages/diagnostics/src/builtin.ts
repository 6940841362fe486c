import { createRequire } from 'node:module';

/**
 * Load a Node builtin that may be missing from some builds (inspector) without a static import,
 * so the rest of the package still loads. `process.getBuiltinModule` exists from Node 20.16;
 * the createRequire fallback covers anything older.
 */
export function loadBuiltin(id: string): unknown {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  try {
    if (typeof get === 'function') return get(id) ?? null;
    return createRequire(import.meta.url)(id);
  } catch {
    return null;
  }
}
