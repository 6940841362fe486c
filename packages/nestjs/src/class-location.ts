import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Frames of helpers that sit between a decorator and the class it decorates. */
const helperFrame =
  /[\\/]node_modules[\\/](?:\.pnpm[\\/][^\\/]+[\\/]node_modules[\\/])?(?:tslib|@swc[\\/]helpers|reflect-metadata|@oxc-project[\\/]runtime|@babel[\\/]runtime)[\\/]/;

/** `at fn (/a/b.js:1:2)`, `at /a/b.js:1:2`, `at file:///a/b.mjs:1:2`, `at C:\a\b.js:1:2`. */
const locationPattern = /(?:\(|\s|^)((?:file:\/\/|\/|[A-Za-z]:\\)[^()\n]*?):\d+:\d+\)?\s*$/;

/**
 * The file a stack frame points to, as a path, or undefined for frames without one
 * (`node:` internals, `<anonymous>`, native code).
 */
export function frameFile(frame: string): string | undefined {
  const location = locationPattern.exec(frame)?.[1];
  if (location === undefined) return undefined;
  if (location.startsWith('file://')) {
    try {
      return fileURLToPath(location);
    } catch {
      return undefined;
    }
  }
  return location;
}

/**
 * The first file of a stack trace that is not this package or a decorator helper (tslib,
 * @swc/helpers): the module whose class definition applied the decorator.
 *
 * @param stack an `Error().stack`
 * @param ownDir this package's directory; its frames are skipped
 */
export function definingFile(stack: string, ownDir: string): string | undefined {
  return firstForeignFile(
    stack
      .split('\n')
      .slice(1)
      .map((line) => frameFile(line.trim())),
    ownDir,
  );
}

function firstForeignFile(files: Array<string | undefined>, ownDir: string): string | undefined {
  for (const file of files) {
    if (file === undefined) continue;
    if (file.startsWith(ownDir) || helperFrame.test(file)) continue;
    return file;
  }
  return undefined;
}

/** Capture the file of the code that called the decorator factory, skipping this package. */
export function captureDefiningFile(ownFile: string): string | undefined {
  const file = firstForeignFile(callerFiles(), dirname(ownFile));
  return file !== undefined && existsSync(file) ? file : undefined;
}

/**
 * The files of the current stack, as V8 ran them. Read from call sites, not from the stack text:
 * with source maps on (`node --enable-source-maps`, source-map-support) the text names the
 * TypeScript sources, which a thread cannot load, or which were not even shipped.
 */
function callerFiles(): Array<string | undefined> {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  let stack: unknown;
  try {
    Error.stackTraceLimit = 50;
    Error.prepareStackTrace = (_error, sites) => sites;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder);
    // Read while our prepareStackTrace is installed: the stack is formatted on first access.
    stack = holder.stack;
  } finally {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = prepare;
  }
  if (!Array.isArray(stack)) return [];
  return stack.map((site: { getFileName?: () => unknown }) => {
    const name = typeof site?.getFileName === 'function' ? site.getFileName() : undefined;
    if (typeof name !== 'string') return undefined;
    if (name.startsWith('file://')) {
      try {
        return fileURLToPath(name);
      } catch {
        return undefined;
      }
    }
    // Absolute paths only: node: internals, <anonymous> and eval code have no file to load.
    return /^(?:\/|[A-Za-z]:\\)/.test(name) ? name : undefined;
  });
}

/**
 * Search the CommonJS module cache for a module exporting `value`, as a fallback for classes
 * whose file the stack did not reveal (or to check it). ESM modules are not searchable.
 */
export function findExportingModule(
  value: unknown,
): { file: string; exportName: string } | undefined {
  // Every require() shares one cache; any require function reaches it.
  const cache = createRequire(__filename).cache;
  for (const [file, mod] of Object.entries(cache)) {
    const exports = mod?.exports as Record<string, unknown> | undefined;
    if (exports === null || exports === undefined) continue;
    if (exports === value) return { file, exportName: 'default' };
    if (typeof exports !== 'object' && typeof exports !== 'function') continue;
    for (const key of Object.keys(exports)) {
      try {
        if (exports[key] === value) return { file, exportName: key };
      } catch {}
    }
  }
  return undefined;
}

/** The name under which the CommonJS module `file` exports `value`, if it is cached and does. */
export function exportNameIn(file: string, value: unknown): string | undefined {
  const exports = createRequire(__filename).cache[file]?.exports as
    | Record<string, unknown>
    | undefined;
  if (exports === undefined || exports === null) return undefined;
  if (exports === value) return 'default';
  for (const key of Object.keys(exports)) if (exports[key] === value) return key;
  return undefined;
}
