import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OffThreadError, OffThreadErrorCode } from '../index.js';
import { describeValue } from './options.js';

/** Options of {@link resolveModulePath}. */
export interface ResolveModulePathOptions {
  /**
   * How the value is named in errors, e.g. `offThread() handlerModule` or
   * `OffThreadModule options.workerModuleFile`. Defaults to `'module'`.
   */
  label?: string;
  /**
   * What a relative path is relative to: a directory path, or the `file:` URL / path of the
   * calling file (a file's directory is used). Without it a relative path is rejected with advice,
   * because "relative to the process's working directory" breaks as soon as the app is started
   * from another directory.
   */
  relativeTo?: string | URL;
  /** Throw ERR_OFFTHREAD_WORKER_INIT when the file does not exist. Defaults to true. */
  mustExist?: boolean;
}

/**
 * Turn what a user passed as a task or handler module into an absolute file path, with the rules
 * both adapters share:
 * - a `URL` must be a `file:` URL; a string starting with `file:` is read as a URL;
 * - an absolute path is taken as is;
 * - a relative path needs `relativeTo` (the calling file or its directory), else it is rejected
 *   with advice (`new URL('./x.js', import.meta.url)` in ESM, `path.join(__dirname, 'x.js')` in CJS);
 * - with `mustExist` (the default) a missing file fails now, at set-up, not at the first request.
 *
 * @throws {TypeError} when the value is not a path or file URL (the message names `label`).
 * @throws {OffThreadError} ERR_OFFTHREAD_WORKER_INIT when the file does not exist.
 */
export function resolveModulePath(value: unknown, options: ResolveModulePathOptions = {}): string {
  const label = options.label ?? 'module';
  let file: string;
  if (value instanceof URL) {
    if (value.protocol !== 'file:') {
      throw new TypeError(`${label} must be a file: URL or an absolute path, got ${value.href}`);
    }
    file = fileURLToPath(value);
  } else if (typeof value !== 'string' || value === '') {
    throw new TypeError(
      `${label} must be an absolute path or a file URL (new URL('./handlers/x.js', import.meta.url)), got ${describeValue(value)}`,
    );
  } else if (value.startsWith('file:')) {
    file = fileURLToPath(value);
  } else if (isAbsolute(value)) {
    file = value;
  } else if (options.relativeTo !== undefined) {
    file = resolve(baseDirectory(options.relativeTo), value);
  } else {
    throw new TypeError(
      `${label} must be an absolute path or a file URL, got the relative path ${JSON.stringify(value)}. Use new URL('${value}', import.meta.url) in ESM or path.join(__dirname, '${value}') in CommonJS.`,
    );
  }
  if ((options.mustExist ?? true) && !existsSync(file)) {
    throw new OffThreadError(
      OffThreadErrorCode.WORKER_INIT,
      `${label}: the file ${file} does not exist. Check the path; in ESM use new URL('./handlers/x.js', import.meta.url), in CommonJS path.join(__dirname, 'handlers/x.js'). A TypeScript app run from its compiled output needs the compiled file's path (.js).`,
      { filename: file },
    );
  }
  return file;
}

function baseDirectory(base: string | URL): string {
  const path =
    base instanceof URL || base.startsWith('file:') ? fileURLToPath(base) : resolve(String(base));
  // A caller's file (import.meta.url, __filename) means its directory.
  try {
    return statSync(path).isDirectory() ? path : dirname(path);
  } catch {
    return dirname(path);
  }
}
