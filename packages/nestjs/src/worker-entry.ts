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
import { onThreadClose } from '@offthread/core/worker';
import {
  type CallPayload,
  type CheckPayload,
  kHttpChain,
  type TargetRef,
  type WorkerPayload,
} from './protocol.js';

const contexts = new Map<string, Promise<INestApplicationContext>>();

// When the pool stops this thread gracefully (app shutdown, idle thread), close the Nest
// contexts so onModuleDestroy / beforeApplicationShutdown / onApplicationShutdown hooks run here.
onThreadClose(async () => {
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

async function call(payload: CallPayload): Promise<unknown> {
  const { target, method, args } = payload;
  const app = await context(target, payload.logger);
  const instance = (await resolveInstance(app, target)) as Record<string, unknown>;
  const fn = instance[method];
  if (typeof fn !== 'function') {
    throw new TypeError(
      `${target.className}.${method} is not a method of the instance the worker context resolved`,
    );
  }
  try {
    return await fn.apply(instance, args);
  } catch (error) {
    markHttpException(error);
    throw error;
  }
}

async function check(payload: CheckPayload): Promise<true> {
  const app = await context(payload.module, payload.logger);
  for (const target of payload.targets) {
    const instance = (await resolveInstance(app, target)) as Record<string, unknown>;
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
  const ctor = await importExport(
    target.classFile,
    target.classExport,
    `the class ${target.className}`,
  );
  try {
    return target.transient
      ? await app.resolve(ctor as never, undefined, { strict: false })
      : app.get(ctor as never, { strict: false });
  } catch (error) {
    throw new Error(
      `${target.className} could not be resolved from ${target.moduleName} in a worker thread: ${(error as Error)?.message ?? error}. Add ${target.className} (and what it injects) to the providers of ${target.moduleName}, or to a module it imports.`,
      { cause: error },
    );
  }
}

async function importExport(file: string, name: string, what: string): Promise<unknown> {
  const ns = await load(file);
  const cjs = ns.default as Record<string, unknown> | undefined;
  const value =
    ns[name] ??
    (cjs !== null && (typeof cjs === 'object' || typeof cjs === 'function')
      ? cjs[name]
      : undefined);
  if (typeof value !== 'function') {
    throw new TypeError(
      `${file} does not export ${what} under the name '${name}'. Export it: export class ${name} ...`,
    );
  }
  return value;
}

/**
 * Load a file the way the app loaded it: CommonJS through require() (which also honours
 * ts-node/SWC require hooks inherited via execArgv), ES modules through import(), TypeScript
 * without a hook through tsx's require() hook.
 */
async function load(file: string): Promise<Record<string, unknown>> {
  const url = file.startsWith('file:') ? file : pathToFileURL(file).href;
  const requireFrom = createRequire(url);
  const ext = /\.[^./\\]+$/.exec(file)?.[0] ?? '';
  if (typeScriptFile.test(file) && ext !== '.mts') {
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
  // A non-literal import() stays a real dynamic import in the CommonJS build.
  const namespace = (await import(url)) as Record<string, unknown>;
  return namespace;
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
    'Cannot load TypeScript in a worker thread: install tsx (npm install --save-dev tsx), start the app with a TypeScript loader (ts-node, @swc-node/register), or run the compiled JavaScript.',
  );
}

/**
 * Record the class chain of an HttpException so the main thread can rebuild a subclass it did
 * not register as its nearest Nest ancestor. Duck-typed: the app's copy of @nestjs/common is
 * the one that matters, and it is not necessarily the one this file would import.
 */
function markHttpException(error: unknown): void {
  if (error === null || typeof error !== 'object' || !Object.isExtensible(error)) return;
  const chain: string[] = [];
  for (
    let p = Object.getPrototypeOf(error);
    p && p !== Error.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    const name = (p as { constructor?: { name?: string } }).constructor?.name;
    if (name) chain.push(name);
  }
  if (chain.includes('HttpException')) (error as Record<string, unknown>)[kHttpChain] = chain;
}
