import { importTaskModule, OffThreadError, OffThreadErrorCode } from '../worker.js';

/** Options of {@link loadExport}. */
export interface LoadExportOptions {
  /** How the module is named in errors, e.g. `offThread(): the handler module`. Defaults to `The task module`. */
  label?: string;
  /** Advice appended when the export is missing, e.g. how to write a default export. */
  advice?: string;
}

/**
 * In a pool thread: load a module the way the pool loads task modules (ESM, CommonJS, TypeScript;
 * the core's per-thread cache, so a module is imported once per thread whoever asks) and return
 * its export `name` when it is a function. Only the module's own exports count (never something
 * inherited through a prototype); a CommonJS module compiled from ESM is looked into one level
 * down (`module.exports.default`).
 *
 * @throws {OffThreadError} ERR_OFFTHREAD_WORKER_INIT when the module fails to load (`cause` holds
 *   the original error), ERR_OFFTHREAD_TASK_NOT_FOUND when the export is missing or not a function.
 */
export async function loadExport(
  filename: string,
  name = 'default',
  options: LoadExportOptions = {},
): Promise<(...args: any[]) => unknown> {
  const label = options.label ?? 'The task module';
  let ns: Record<string, unknown>;
  try {
    ns = await importTaskModule(filename);
  } catch (error) {
    const cause = (error as { cause?: unknown })?.cause ?? error;
    throw new OffThreadError(
      OffThreadErrorCode.WORKER_INIT,
      `${label} ${filename} failed to load in a worker thread: ${(cause as Error)?.message ?? String(cause)}`,
      { cause, filename },
    );
  }
  const fn = findOwnFunction(ns, name);
  if (!fn) {
    throw new OffThreadError(
      OffThreadErrorCode.TASK_NOT_FOUND,
      `${label} ${filename} has no ${name === 'default' ? 'default export' : `export named ${JSON.stringify(name)}`} that is a function.${options.advice ? ` ${options.advice}` : ''}`,
      { filename, task: name },
    );
  }
  return fn;
}

function findOwnFunction(
  ns: Record<string, unknown>,
  name: string,
): ((...args: any[]) => unknown) | undefined {
  const own = Object.hasOwn(ns, name) ? ns[name] : undefined;
  if (typeof own === 'function') return own as (...args: any[]) => unknown;
  // CommonJS: `module.exports` arrives as `default`; compiled ESM keeps its exports on it.
  const cjs = Object.hasOwn(ns, 'default') ? ns.default : undefined;
  if (cjs !== null && typeof cjs === 'object' && Object.hasOwn(cjs, name)) {
    const inner = (cjs as Record<string, unknown>)[name];
    if (typeof inner === 'function') return inner as (...args: any[]) => unknown;
  }
  return undefined;
}
