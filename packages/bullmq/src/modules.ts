import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OffThreadErrorCode } from '@offthread/core';
import { type AdapterEntry, adapterEntry } from './adapters.js';
import { offThreadError, RemoteErrorCode } from './errors.js';
import type { ModuleRef } from './wire.js';

/**
 * How task modules are named between machines. A file under `root` travels as its root-relative
 * path plus a content hash, so a worker runs exactly the caller's code or refuses; an entry of an
 * installed @offthread/* adapter travels as package name + version + path inside the package, so
 * each worker resolves it from its own install.
 */

/** Turn a path, `file:` URL string or URL into an absolute path; throws naming `what`. */
export function toPath(value: unknown, what: string): string {
  if (value instanceof URL) {
    if (value.protocol !== 'file:')
      throw new TypeError(`${what} must be a file: URL, got ${value.href}`);
    return fileURLToPath(value);
  }
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(
      `${what} must be an absolute path or a file URL (new URL('./dist/', import.meta.url)), got ${typeof value === 'string' ? '""' : String(value)}`,
    );
  }
  if (value.startsWith('file:')) return fileURLToPath(value);
  if (!isAbsolute(value)) {
    throw new TypeError(
      `${what} must be an absolute path or a file URL, got the relative path ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The real path of a root directory, checked to exist. */
export function resolveRoot(value: unknown, what: string): string {
  const path = toPath(value, what);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new TypeError(
      `${what} (${path}) does not exist. Point it at the directory holding your task modules.`,
    );
  }
  if (!statSync(real).isDirectory()) throw new TypeError(`${what} (${path}) is not a directory.`);
  return real;
}

const hashes = new Map<string, { mtimeMs: number; size: number; hash: string }>();

/** A short content hash of a file, cached while its mtime and size stay the same. */
export function fileHash(path: string): string {
  const st = statSync(path);
  const cached = hashes.get(path);
  if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.hash;
  const hash = createHash('sha256').update(readFileSync(path)).digest('base64url').slice(0, 22);
  // Bounded: a long-lived process naming many files keeps only the recent ones.
  if (hashes.size >= 4096) hashes.clear();
  hashes.set(path, { mtimeMs: st.mtimeMs, size: st.size, hash });
  return hash;
}

interface PackageInfo {
  dir: string;
  name: string;
  version: string;
}
const packages = new Map<string, PackageInfo | null>();

/** The package a file belongs to (nearest package.json with a name), cached per directory. */
function packageOf(file: string): PackageInfo | undefined {
  let dir = dirname(file);
  const visited: string[] = [];
  let found: PackageInfo | null | undefined;
  for (;;) {
    found = packages.get(dir);
    if (found !== undefined) break;
    visited.push(dir);
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (typeof json.name === 'string') {
        found = { dir, name: json.name, version: String(json.version ?? '') };
        break;
      }
    } catch {}
    const parent = dirname(dir);
    if (parent === dir) {
      found = null;
      break;
    }
    dir = parent;
  }
  for (const d of visited) packages.set(d, found);
  return found ?? undefined;
}

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

/**
 * Resolved names are reused for a second: a call then costs no file-system access, and a
 * rebuilt module is picked up (rehashed) within a second.
 */
const FRESH_MS = 1000;
const refs = new Map<string, { ref: ModuleRef; at: number }>();

/** Caller side: name `filename` for the workers. Throws OUTSIDE_ROOT when it cannot be named. */
export function moduleRef(filename: string, root: string): ModuleRef {
  const key = `${root}\0${filename}`;
  const now = performance.now();
  const cached = refs.get(key);
  if (cached && now - cached.at < FRESH_MS) return cached.ref;
  const ref = computeModuleRef(filename, root);
  if (refs.size >= 4096) refs.clear();
  refs.set(key, { ref, at: now });
  return ref;
}

function computeModuleRef(filename: string, root: string): ModuleRef {
  let real: string;
  try {
    real = realpathSync(filename);
  } catch (error) {
    throw offThreadError(
      OffThreadErrorCode.WORKER_INIT,
      `The task module ${filename} does not exist. Check the path.`,
      { cause: error, filename },
    );
  }
  const pkg = packageOf(real);
  if (pkg && adapterEntry(pkg.name)) {
    return { k: 'p', n: pkg.name, v: pkg.version, p: toPosix(relative(pkg.dir, real)) };
  }
  if (!isInside(real, root)) {
    throw offThreadError(
      RemoteErrorCode.OUTSIDE_ROOT,
      `The task module ${filename} is not under the remote pool's root (${root}). Workers only load modules under their own root: move the module there or widen \`root\`.`,
      { filename },
    );
  }
  return { k: 'f', p: toPosix(relative(root, real)), h: fileHash(real) };
}

/** What a worker runs for a job. */
export interface ResolvedModule {
  filename: string;
  /** Set for adapter entries: rewrites the paths inside their argument. */
  adapter?: AdapterEntry;
}

const resolved = new Map<string, { real: string; at: number }>();

/**
 * Worker side: a root-relative path from a job, resolved under `root` and checked to stay there
 * (no absolute paths, no `..`, no symlink out of root), and its content hash compared with the
 * caller's. A success is remembered for a second (same path and hash), failures never.
 */
export function resolveUnderRoot(path: unknown, root: string, expectedHash: unknown): string {
  const key = `${root}\0${String(path)}\0${String(expectedHash)}`;
  const now = performance.now();
  const cached = resolved.get(key);
  if (cached && now - cached.at < FRESH_MS) return cached.real;
  const real = checkUnderRoot(path, root, expectedHash);
  if (resolved.size >= 4096) resolved.clear();
  resolved.set(key, { real, at: now });
  return real;
}

function checkUnderRoot(path: unknown, root: string, expectedHash: unknown): string {
  if (
    typeof path !== 'string' ||
    path === '' ||
    isAbsolute(path) ||
    /^[a-zA-Z]:|^[\\/]/.test(path)
  ) {
    throw offThreadError(
      RemoteErrorCode.OUTSIDE_ROOT,
      `A job named the module ${JSON.stringify(path)}, which is not a path relative to the worker's root; it was refused.`,
    );
  }
  const full = resolve(root, path);
  let real: string;
  try {
    if (!isInside(full, root)) throw new Error('outside');
    real = realpathSync(full);
  } catch (error) {
    if ((error as Error).message === 'outside') {
      throw offThreadError(
        RemoteErrorCode.OUTSIDE_ROOT,
        `A job named the module ${JSON.stringify(path)}, which is outside the worker's root (${root}); it was refused.`,
      );
    }
    throw offThreadError(
      RemoteErrorCode.MODULE_MISMATCH,
      `This worker has no module ${JSON.stringify(path)} under its root (${root}). Deploy the same build to callers and workers.`,
      { filename: full },
    );
  }
  if (!isInside(real, root)) {
    throw offThreadError(
      RemoteErrorCode.OUTSIDE_ROOT,
      `A job named the module ${JSON.stringify(path)}, which resolves outside the worker's root (${root}); it was refused.`,
    );
  }
  const hash = fileHash(real);
  if (hash !== expectedHash) {
    throw offThreadError(
      RemoteErrorCode.MODULE_MISMATCH,
      `This worker's copy of ${path} differs from the caller's (content hash ${hash}, caller has ${String(expectedHash)}). Deploy the same build to callers and workers; the job was not run.`,
      { filename: real },
    );
  }
  return real;
}

/** Worker side: find the module a job names. */
export function resolveModuleRef(ref: unknown, root: string): ResolvedModule {
  const r = ref as Partial<Record<string, unknown>> | null;
  if (r && r.k === 'f') return { filename: resolveUnderRoot(r.p, root, r.h) };
  const name = r?.k === 'p' && typeof r.n === 'string' ? r.n : undefined;
  const adapter = name === undefined ? undefined : adapterEntry(name);
  if (r && name !== undefined && adapter) {
    let pkgJson: string;
    try {
      pkgJson = createRequire(join(root, 'noop.js')).resolve(`${name}/package.json`);
    } catch (error) {
      throw offThreadError(
        RemoteErrorCode.MODULE_MISMATCH,
        `This worker cannot find ${name} from its root (${root}). Install ${name}@${String(r.v)} on the worker.`,
        { cause: error },
      );
    }
    const dir = dirname(realpathSync(pkgJson));
    const version = String(JSON.parse(readFileSync(pkgJson, 'utf8')).version ?? '');
    if (version !== r.v) {
      throw offThreadError(
        RemoteErrorCode.MODULE_MISMATCH,
        `This worker has ${name}@${version}, the caller has ${name}@${String(r.v)}. Install the same version on callers and workers; the job was not run.`,
      );
    }
    const sub = typeof r.p === 'string' ? r.p : '';
    const full = resolve(dir, sub);
    if (sub === '' || isAbsolute(sub) || !isInside(full, dir) || !adapter.entry.test(sub)) {
      throw offThreadError(
        RemoteErrorCode.OUTSIDE_ROOT,
        `A job named ${JSON.stringify(sub)} inside ${name}, which is not one of its worker entries; it was refused.`,
      );
    }
    return { filename: full, adapter };
  }
  throw offThreadError(
    RemoteErrorCode.OUTSIDE_ROOT,
    'A job named its task module in a form this worker does not accept; it was refused. Callers and workers must use the same version of @offthread/bullmq.',
  );
}
