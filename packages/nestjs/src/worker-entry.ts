/**
 * The task module every pool thread loads for `@OffThread()` calls. It bootstraps one Nest
 * application context per worker module, once per thread (lazily, then cached), and runs the
 * method on the instance that context resolves. In a thread the `@OffThread()` decorator leaves
 * methods undecorated, so the call below runs the method body itself.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { INestApplicationContext, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadExport } from '@offthread/core/adapter';
import { importTaskModule, onThreadClose } from '@offthread/core/worker';
import {
  type CallPayload,
  type CallResult,
  type CheckPayload,
  kHttpChain,
  type TargetRef,
  type UnknownTarget,
  type WorkerPayload,
} from './protocol.js';
import { findClassInstances } from './result-classes.js';

const contexts = new Map<string, Promise<INestApplicationContext>>();

// When the pool stops this thread gracefully (app shutdown, idle thread), close the Nest
// contexts so onModuleDestroy / beforeApplicationShutdown / onApplicationShutdown hooks run here.
onThreadClose(async () => {
  resolved.clear();
  for (const app of contexts.values()) {
    await app.then((context) => context.close()).catch(() => {});
  }
});
const typeScriptFile = /\.[cm]?tsx?$/;
let tsxRegistered: true | undefined;

/** Run one `@OffThread()` call, or (op 'check') verify at start-up that the classes resolve. */
export default async function offThreadNestTask(payload: WorkerPayload): Promise<unknown> {
  if (payload.op === 'check') return check(payload);
  return call(payload);
}

/** Singleton instances already resolved in this thread, by target id (bounded with `targets`). */
const resolved = new Map<string, Record<string, unknown>>();

/** Targets this thread has met, by id (bounded: ids of many processes may reach one thread). */
const targets = new Map<string, { target: TargetRef; logger: false | LogLevel[] }>();
const kMaxTargets = 1000;

function remember(target: TargetRef, logger: false | LogLevel[] | undefined): void {
  if (targets.has(target.id)) return;
  if (targets.size >= kMaxTargets) {
    const oldest = targets.keys().next().value as string;
    targets.delete(oldest);
    // Its resolved instance goes with it: ids of processes long gone must not pile up here.
    resolved.delete(oldest);
  }
  targets.set(target.id, { target, logger: logger ?? ['error', 'warn'] });
}

async function call(payload: CallPayload): Promise<unknown> {
  const { method, args } = payload;
  if (payload.target) remember(payload.target, payload.logger);
  const known = targets.get(payload.id);
  if (!known) return { offthreadNestUnknownTarget: true } satisfies UnknownTarget;
  const { target, logger } = known;
  // The hot path: a singleton resolved once per thread is reused without going through loading.
  const key = target.transient ? undefined : target.id;
  let instance = key === undefined ? undefined : resolved.get(key);
  if (instance === undefined) {
    const app = await context(target, logger);
    instance = (await resolveInstance(app, target)) as Record<string, unknown>;
    // Only while the target is remembered (it may have been evicted during the await).
    if (key !== undefined && targets.has(key)) resolved.set(key, instance);
  }
  const fn = instance[method];
  if (typeof fn !== 'function') {
    throw new TypeError(
      `${target.className}.${method} is not a method of the instance the worker context resolved`,
    );
  }
  let value: unknown;
  try {
    value = await fn.apply(instance, args);
  } catch (error) {
    markHttpException(error);
    throw error;
  }
  const classes = findClassInstances(value);
  // Most results need no envelope: it is only added for class instances, or for a value that
  // could be mistaken for one of the envelopes.
  if (classes === undefined && !looksLikeEnvelope(value)) return value;
  const result: CallResult = { offthreadNestResult: true, value, classes };
  return result;
}

async function check(payload: CheckPayload): Promise<true> {
  const app = await context(payload.module, payload.logger);
  for (const target of payload.targets) {
    remember(target, payload.logger);
    const instance = (await resolveInstance(app, target)) as Record<string, unknown>;
    checkMetadata(app, target);
    for (const method of target.methods) {
      if (typeof instance[method] !== 'function') {
        throw new TypeError(
          `${target.className}.${method} is not a method of the instance resolved in the worker thread`,
        );
      }
    }
  }
  return true;
}

function context(
  ref: Pick<TargetRef, 'moduleFile' | 'moduleExport' | 'moduleName'>,
  logger: false | LogLevel[],
): Promise<INestApplicationContext> {
  const key = `${ref.moduleFile}#${ref.moduleExport}`;
  let app = contexts.get(key);
  if (!app) {
    app = (async () => {
      const moduleClass = await importExport(
        ref.moduleFile,
        ref.moduleExport,
        `the worker module ${ref.moduleName}`,
      );
      try {
        return await NestFactory.createApplicationContext(moduleClass as never, {
          logger,
          abortOnError: false,
        });
      } catch (error) {
        throw new Error(
          `Nest could not bootstrap ${ref.moduleName} in a worker thread: ${(error as Error)?.message ?? error}. Every provider of the worker module must be constructible in a thread: move HTTP-only or connection-holding providers out of it, or pass a smaller workerModule to OffThreadModule.forRoot().`,
          { cause: error },
        );
      }
    })();
    contexts.set(key, app);
    // A failed bootstrap is retried by the next call rather than cached forever.
    app.catch(() => contexts.delete(key));
  }
  return app;
}

async function resolveInstance(app: INestApplicationContext, target: TargetRef): Promise<unknown> {
  const token = await tokenOf(target);
  const get = (t: unknown) =>
    target.transient
      ? app.resolve(t as never, undefined, { strict: false })
      : app.get(t as never, { strict: false });
  try {
    return await get(token);
  } catch (error) {
    // The worker module may register the class under another token than the app does.
    const other = target.classFile === undefined ? undefined : await tokenByClass(app, target);
    if (other !== undefined && other !== token) {
      try {
        return await get(other);
      } catch {}
    }
    const name = target.token.kind === 'export' ? target.token.name : String(token);
    const what = name === target.className ? name : `${name} (provided by ${target.className})`;
    throw new Error(
      `${what} could not be resolved from ${target.moduleName} in a worker thread: ${(error as Error)?.message ?? error}. Add the provider of ${name} (and what it injects) to the providers of ${target.moduleName}, or to a module it imports, the same way the app provides it.`,
      { cause: error },
    );
  }
}

/** The token the app registered the provider under, as a value of this thread. */
async function tokenOf(target: TargetRef): Promise<unknown> {
  const ref = target.token;
  if (ref.kind === 'string') return ref.value;
  if (ref.kind === 'symbol') return Symbol.for(ref.key);
  return importExport(ref.file, ref.exportName, `the token ${ref.name}`, false);
}

interface WrapperLike {
  token?: unknown;
  name?: unknown;
  metatype?: unknown;
  instance?: unknown;
  inject?: unknown;
}

/** All provider wrappers of a context (Nest's container, stable across Nest 10-12). */
function wrappersOf(app: INestApplicationContext): WrapperLike[] {
  const container = (app as unknown as { container?: { getModules(): Map<unknown, unknown> } })
    .container;
  const wrappers: WrapperLike[] = [];
  for (const module of container?.getModules().values() ?? []) {
    const providers = (module as { providers?: Map<unknown, WrapperLike> }).providers;
    for (const wrapper of providers?.values() ?? []) wrappers.push(wrapper);
  }
  return wrappers;
}

/** A token under which the worker context provides the class, if any. */
async function tokenByClass(app: INestApplicationContext, target: TargetRef): Promise<unknown> {
  let ctor: unknown;
  try {
    ctor = await importExport(
      target.classFile!,
      target.classExport,
      `the class ${target.className}`,
    );
  } catch {
    return undefined;
  }
  for (const wrapper of wrappersOf(app)) {
    if (wrapper.metatype === ctor && !wrapper.inject) return wrapper.token ?? wrapper.name;
  }
  return undefined;
}

/**
 * Code compiled without `emitDecoratorMetadata` (tsx, esbuild, Vitest's default transform)
 * leaves Nest no constructor types: it constructs the class with `undefined` for every
 * dependency and reports nothing. Catch that at start-up for the provider and what it injects.
 */
function checkMetadata(app: INestApplicationContext, target: TargetRef): void {
  const reflect = Reflect as unknown as {
    getMetadata?: (key: string, target: object) => unknown;
  };
  if (typeof reflect.getMetadata !== 'function') {
    throw new Error(
      `reflect-metadata is not loaded in the worker thread, so Nest cannot inject the dependencies of ${target.className}. Import 'reflect-metadata' at the top of the worker module's file (${target.moduleName}).`,
    );
  }
  const lacking: string[] = [];
  const seen = new Set<Function>();
  const visit = (c: Function) => {
    if (seen.has(c)) return;
    seen.add(c);
    if (c.length === 0) return;
    const types = reflect.getMetadata!('design:paramtypes', c) as unknown[] | undefined;
    const explicit = (reflect.getMetadata!('self:paramtypes', c) as Array<{ index: number }>) ?? [];
    if (types === undefined && explicit.length < c.length) lacking.push(c.name || '(anonymous)');
  };
  // The app's own @Injectable() classes; Nest's internal providers (ModuleRef...) inject explicitly.
  for (const wrapper of wrappersOf(app)) {
    const c = wrapper.metatype;
    if (typeof c === 'function' && !wrapper.inject && reflect.getMetadata('__injectable__', c))
      visit(c);
  }
  if (lacking.length) {
    throw new Error(
      `${lacking.join(', ')} ${lacking.length === 1 ? 'has' : 'have'} constructor parameters but no decorator metadata in the worker thread, so Nest would inject undefined for them. The files were compiled without emitDecoratorMetadata (tsx, esbuild and Vitest's default transform emit none). Run the compiled JavaScript (tsc, SWC, nest build), inject each parameter with an explicit @Inject(Token), or, in tests, run @OffThread() methods inline (the default in Test.createTestingModule(), or inline: true).`,
    );
  }
}

async function importExport(
  file: string,
  name: string,
  what: string,
  mustBeFunction = true,
): Promise<unknown> {
  if (mustBeFunction && !isRequireHookTypeScript(file)) {
    // Compiled JavaScript: the core's loader, its per-thread cache and its own-exports rule.
    return loadExport(file.startsWith('file:') ? fileURLToPath(file) : file, name, {
      label: what,
      advice: `Export it from that file: export class ${name} ...`,
    });
  }
  const ns = await load(file);
  const cjs = ns.default as Record<string, unknown> | undefined;
  // Own exports only: a name must never reach Object.prototype.
  const value = Object.hasOwn(ns, name)
    ? ns[name]
    : cjs !== null &&
        (typeof cjs === 'object' || typeof cjs === 'function') &&
        Object.hasOwn(cjs, name)
      ? cjs[name]
      : undefined;
  if (mustBeFunction ? typeof value !== 'function' : value === undefined) {
    throw new TypeError(
      `${file} does not export ${what} under the name '${name}'. Export it: export ${mustBeFunction ? 'class' : 'const'} ${name} ...`,
    );
  }
  return value;
}

/**
 * Load a file the way the app loaded it: CommonJS through require() (which also honours
 * ts-node/SWC require hooks inherited via execArgv), ES modules through import(), TypeScript
 * without a hook through tsx's require() hook.
 */
/**
 * TypeScript other than .mts goes through require() hooks (the app's ts-node or @swc-node
 * hook inherited via execArgv, else tsx's): they compile legacy decorators, which Node's own
 * type stripping, used by the core's loader, cannot.
 */
function isRequireHookTypeScript(file: string): boolean {
  return typeScriptFile.test(file) && !/\.mts$/.test(file);
}

async function load(file: string): Promise<Record<string, unknown>> {
  const url = file.startsWith('file:') ? file : pathToFileURL(file).href;
  const requireFrom = createRequire(url);
  const ext = /\.[^./\\]+$/.exec(file)?.[0] ?? '';
  if (isRequireHookTypeScript(file)) {
    if (requireFrom.extensions[ext] === undefined && !tsxRegistered) {
      registerTsx(requireFrom);
      tsxRegistered = true;
    }
    try {
      return requireFrom(file.startsWith('file:') ? fileURLToPath(file) : file) as Record<
        string,
        unknown
      >;
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw error;
    }
  }
  return importTaskModule(file.startsWith('file:') ? fileURLToPath(file) : file);
}

/** tsx's require() hook (an optional peer of @offthread/core: next to the app, or next to the core). */
function registerTsx(requireFrom: NodeJS.Require): void {
  for (const from of [requireFrom, createRequire(require.resolve('@offthread/core'))]) {
    let api: string;
    try {
      api = from.resolve('tsx/cjs/api');
    } catch {
      continue;
    }
    (require(api) as { register: () => unknown }).register();
    return;
  }
  throw new Error(
    'Cannot load TypeScript in a worker thread. Run the compiled JavaScript (tsc, SWC, nest build), or start the app with a TypeScript loader that emits decorator metadata (ts-node, @swc-node/register), which threads inherit. In tests, run @OffThread() methods inline instead (the default in Test.createTestingModule(), or inline: true). tsx can load the files (npm install --save-dev tsx) but emits no decorator metadata: only classes that inject with explicit @Inject(Token) work under it.',
  );
}

/**
 * Record the class chain of an HttpException so the main thread can rebuild a subclass it did
 * not register as its nearest Nest ancestor. Duck-typed: the app's copy of @nestjs/common is
 * the one that matters, and it is not necessarily the one this file would import.
 */
function markHttpException(error: unknown): void {
  // What was thrown is user data: a Proxy's traps or a throwing `constructor` getter must not
  // replace the thrown value with an error of this function (the core copies hostile values).
  try {
    if (error === null || typeof error !== 'object' || !Object.isExtensible(error)) return;
    const chain: string[] = [];
    // Bounded: a Proxy's getPrototypeOf trap can hand out a new prototype forever.
    let depth = 0;
    for (
      let p = Object.getPrototypeOf(error);
      p && p !== Error.prototype && depth < 64;
      p = Object.getPrototypeOf(p), depth++
    ) {
      const name = (p as { constructor?: { name?: string } }).constructor?.name;
      if (typeof name === 'string' && name) chain.push(name);
    }
    if (chain.includes('HttpException')) (error as Record<string, unknown>)[kHttpChain] = chain;
  } catch {}
}

function looksLikeEnvelope(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    (Object.hasOwn(value, 'offthreadNestResult') ||
      Object.hasOwn(value, 'offthreadNestUnknownTarget'))
  );
}
