import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OffThreadError, OffThreadErrorCode } from './errors.js';

const typeScriptFile = /\.[cm]?tsx?$/;

/**
 * Per-thread loader state. It is kept on globalThis because this file is bundled into both the
 * thread runtime and the public `@offthread/core/worker` entry (ESM and CJS): all copies must
 * share one module cache and register tsx at most once.
 */
interface LoaderState {
  modules: Map<string, Promise<Record<string, unknown>>>;
  tsxRegistered: Promise<boolean> | undefined;
}
const stateKey = Symbol.for('offthread.module-loader');
const scope = globalThis as Record<symbol, LoaderState | undefined>;
const state: LoaderState = scope[stateKey] ?? { modules: new Map(), tsxRegistered: undefined };
scope[stateKey] = state;

/**
 * Import a task module the way the pool does: ESM or CommonJS, and TypeScript natively where
 * Node strips types or through tsx (if installed) on older versions. Cached per file.
 * Rejects with OffThreadError ERR_OFFTHREAD_WORKER_INIT carrying the original error as `cause`.
 */
export function importTaskModule(filename: string): Promise<Record<string, unknown>> {
  let promise = state.modules.get(filename);
  if (!promise) {
    promise = importWithTypeScriptFallback(filename).catch((error: unknown) => {
      if (isOwnError(error)) throw error;
      throw new OffThreadError(
        OffThreadErrorCode.WORKER_INIT,
        `The task module ${filename} failed to load in a worker thread: ${describeThrown(error)}`,
        { cause: error, filename },
      );
    });
    state.modules.set(filename, promise);
  }
  return promise;
}

function isOwnError(error: unknown): boolean {
  try {
    return error instanceof OffThreadError;
  } catch {
    return false;
  }
}

/** The message of whatever a module threw while loading, even a symbol or a hostile Proxy. */
function describeThrown(error: unknown): string {
  try {
    const message = (error as { message?: unknown } | null | undefined)?.message;
    return typeof message === 'string' ? message : String(error);
  } catch {
    return `a ${typeof error} that cannot be described`;
  }
}

async function importWithTypeScriptFallback(filename: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(filename).href;
  if (!typeScriptFile.test(filename) || (process.features as { typescript?: unknown }).typescript) {
    return import(url);
  }
  // This Node version does not strip types (Node 20, or 22 before 22.18). tsx is registered
  // before the first import: a failed import of a URL is cached and cannot be retried.
  state.tsxRegistered ??= registerTsx();
  const registered = await state.tsxRegistered;
  try {
    return await import(url);
  } catch (error) {
    // Without tsx the import still works when the app runs under a loader the thread inherited.
    if (!registered && (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new OffThreadError(
        OffThreadErrorCode.WORKER_INIT,
        `Cannot load the TypeScript task file ${filename}: Node ${process.version} cannot strip types by itself. Install tsx (npm install --save-dev tsx) and offthread will use it, or run Node 22.18+ / 24, or point the pool at the compiled .js file.`,
        { filename, cause: error },
      );
    }
    throw error;
  }
}

/** Register tsx's ESM hooks in this thread; false when tsx is not installed. */
async function registerTsx(): Promise<boolean> {
  // Resolved from the app (cwd) first, then from this package.
  for (const from of [join(process.cwd(), 'noop.js'), import.meta.url]) {
    let apiPath: string;
    try {
      // The ESM build of tsx's API: its CJS build registers a loader path that does not exist.
      const manifestPath = createRequire(from).resolve('tsx/package.json');
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      const target = manifest.exports?.['./esm/api']?.import;
      apiPath = join(dirname(manifestPath), typeof target === 'string' ? target : target.default);
    } catch {
      continue;
    }
    const api = (await import(pathToFileURL(apiPath).href)) as { register: () => unknown };
    api.register();
    return true;
  }
  return false;
}
