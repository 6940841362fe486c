import { exportedFunctionNames, findExport } from '../export-lookup.js';
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
 * its export `name` when it is a function, found with the core's own-exports rule (nothing
 * inherited through a prototype; CommonJS `module.exports.name` and compiled ESM's
 * `exports.default` count).
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
  // The core's lookup: own exports only, CommonJS interop included (one rule for pool and adapters).
  const fn = findExport(ns, name);
  if (!fn) {
    const names = exportedFunctionNames(ns);
    const found = names.length ? ` Its function exports: ${names.join(', ')}.` : '';
    throw new OffThreadError(
      OffThreadErrorCode.TASK_NOT_FOUND,
      `${label} ${filename} has no ${name === 'default' ? 'default export' : `export named ${JSON.stringify(name)}`} that is a function.${found}${options.advice ? ` ${options.advice}` : ''}`,
      { filename, task: name },
    );
  }
  return fn;
}
