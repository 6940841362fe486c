import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Transferable } from 'node:worker_threads';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { OffThreadError, OffThreadErrorCode, Pool, type TaskPool } from '@offthread/core';
import { describeValue, runAsTask } from '@offthread/core/adapter';
import { isOffThreadWorker } from '@offthread/core/worker';
import { exportNameIn, findExportingModule } from './class-location.js';
import { registerNestExceptions, restoreHttpException } from './http-errors.js';
import { OFFTHREAD_MODULE_OPTIONS } from './off-thread.constants.js';
import { decoratedMethods } from './off-thread.decorator.js';
import type { OffThreadOptions, ResolvedModuleOptions } from './off-thread.options.js';
import {
  type CallPayload,
  type CallResult,
  type OffThreadRuntime,
  sharedState,
  type TargetRef,
  type TokenRef,
  type UnknownTarget,
} from './protocol.js';
import { findClassInstances, restoreClassInstances } from './result-classes.js';

const kTransfer = Symbol.for('offthread.transfer');

/** The task module every pool thread loads to run `@OffThread()` methods. */
export const workerEntryFile = join(__dirname, 'worker-entry.js');

/**
 * Owns the pool of an `OffThreadModule`: starts it with the module (or takes the app's), routes
 * `@OffThread()` calls to it, and closes it on application shutdown if it made it. Internal;
 * inject the pool with `@InjectPool()`.
 */
@Injectable()
export class OffThreadHost
  implements OffThreadRuntime, BeforeApplicationShutdown, OnApplicationShutdown
{
  /** Null inside a pool thread: a worker context must not start threads of its own. */
  readonly pool: TaskPool | null;
  /** Classes checked at start-up, with where the worker finds them. */
  readonly targets = new Map<Function, TargetRef>();
  /** The same, per instance: one class can be registered under several tokens. */
  readonly instanceTargets = new WeakMap<object, TargetRef>();
  /** Whether calls run on the main thread (decided at start-up, see the `inline` option). */
  inline: boolean;
  private readonly ownsPool: boolean;
  private readonly warned = new Set<string>();
  private readonly logger = new Logger('OffThreadModule');

  constructor(
    @Inject(OFFTHREAD_MODULE_OPTIONS) readonly options: ResolvedModuleOptions,
    // To start the shutdown grace period when Nest closes the HTTP server (none in a plain
    // application context).
    @Optional() @Inject(HttpAdapterHost) private readonly adapterHost?: HttpAdapterHost,
  ) {
    this.inline = options.inline === true;
    if (isOffThreadWorker()) {
      this.pool = null;
      this.ownsPool = false;
      return;
    }
    if (!existsSync(workerEntryFile)) {
      throw new Error(
        `@offthread/nestjs is incomplete: ${workerEntryFile} is missing. Reinstall the package.`,
      );
    }
    registerNestExceptions(options.errors);
    this.ownsPool = options.existingPool === undefined;
    this.pool = options.existingPool ?? new Pool(options.pool);
    this.pool.on('threadStart', this.warmUp);
    sharedState().runtime = this;
  }

  /** Checks of each worker module, set by the explorer; replayed on every new thread. */
  warmUpPayloads: unknown[] = [];

  /**
   * A thread that replaces one (after a timeout or crash, or when the pool grows) bootstraps its
   * Nest context before taking calls, as far as the pool lets us steer it: the check goes first
   * in the queue, and a new thread is the only idle one exactly when calls are waiting. Without
   * this the bootstrap would count against the first call's timeout.
   */
  private readonly warmUp = () => {
    if (this.inline) return;
    for (const payload of this.warmUpPayloads) {
      this.pool!.run(payload, {
        filename: workerEntryFile,
        priority: Number.MAX_SAFE_INTEGER,
      }).catch(() => {
        // A broken module was reported at start-up; the next call reports it again.
      });
    }
  };

  call(
    instance: object,
    method: string,
    options: OffThreadOptions,
    args: unknown[],
  ): Promise<unknown> {
    if (this.inline) return this.callInline(instance, method, options, args);
    const pool = this.pool!;
    let target: TargetRef;
    try {
      target = this.targetOf(instance);
    } catch (error) {
      return Promise.reject(error);
    }
    let transferList: Transferable[] | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as {
        [kTransfer]?: unknown;
        value?: unknown;
        transferList?: Transferable[];
      } | null;
      if (
        arg !== null &&
        typeof arg === 'object' &&
        arg[kTransfer] === true &&
        Array.isArray(arg.transferList)
      ) {
        transferList ??= [];
        transferList.push(...arg.transferList);
        args[i] = arg.value;
      }
    }
    if (options.transfer) {
      const picked: unknown = options.transfer(...args);
      // A common slip is returning the buffer itself: name the option rather than fail on a spread.
      if (!Array.isArray(picked)) {
        throw new TypeError(
          `@OffThread() options.transfer of ${target.className}.${method}() must return an array of objects to move, like (bytes) => [bytes.buffer], got ${describeValue(picked)}`,
        );
      }
      transferList ??= [];
      transferList.push(...(picked as Transferable[]));
    }
    const runOptions: Record<string, unknown> = { filename: workerEntryFile };
    if (options.timeout !== undefined) runOptions.timeout = options.timeout;
    const scope = sharedState().request.getStore();
    const queueTimeout = options.queueTimeout ?? scope?.queueTimeout;
    if (queueTimeout !== undefined) runOptions.queueTimeout = queueTimeout;
    if (options.priority !== undefined) runOptions.priority = options.priority;
    if (scope?.signal) runOptions.signal = scope.signal;
    if (transferList) runOptions.transferList = transferList;
    const payload: CallPayload = transferList
      ? { op: 'call', id: target.id, method, args, target, logger: this.options.workerLogger }
      : { op: 'call', id: target.id, method, args };
    const failed = (error: unknown) => {
      throw restoreHttpException(error);
    };
    return pool.run(payload, runOptions).then((result: CallResult | UnknownTarget) => {
      if (!isUnknownTarget(result)) return this.unwrap(result, target.className, method);
      // A thread that has not met this target yet (new, or replaced): send it whole, once. The
      // arguments were not consumed (a transferred buffer is detached: such calls carry the
      // whole target from the start).
      const full: CallPayload = { ...payload, target, logger: this.options.workerLogger };
      return pool
        .run(full, runOptions)
        .then((again: CallResult) => this.unwrap(again, target.className, method), failed);
    }, failed);
  }

  /**
   * Inline mode: the method body on this instance, on the main thread. Arguments and result are
   * still copied the way they would be between threads, so tests see the same data.
   */
  private async callInline(
    instance: object,
    method: string,
    options: OffThreadOptions,
    args: unknown[],
  ): Promise<unknown> {
    const original = decoratedMethods(Object.getPrototypeOf(instance))?.methods.get(
      method,
    )?.original;
    if (!original) throw new TypeError(`${method} is not an @OffThread() method of this instance`);
    const copied = args.map((arg) => {
      const a = arg as { [kTransfer]?: unknown; value?: unknown } | null;
      return a !== null && typeof a === 'object' && a[kTransfer] === true ? a.value : arg;
    });
    let cloned: unknown[];
    try {
      cloned = structuredClone(copied);
    } catch (error) {
      throw new OffThreadError(
        'ERR_OFFTHREAD_UNCLONEABLE' as never,
        `The arguments of ${instance.constructor.name}.${method}() cannot be copied to a thread: ${(error as Error).message} Pass plain data.`,
        { cause: error },
      );
    }
    // The method's timeout (else the pool's) holds inline too, so a test sees the rejection a
    // thread would give. The body runs as a task (runAsTask), so `currentTask()` works in it and
    // its signal aborts on the timeout or the request's abort, as in a thread; a body that
    // ignores the signal cannot be stopped on the main thread, only no longer awaited.
    const timeout = options.timeout ?? (this.options.pool as { taskTimeout?: number }).taskTimeout;
    const timed = timeout !== undefined && timeout !== Number.POSITIVE_INFINITY;
    const requestSignal = sharedState().request.getStore()?.signal;
    const controller = timed || requestSignal ? new AbortController() : undefined;
    const onRequestAbort = () => controller?.abort(requestSignal?.reason);
    requestSignal?.addEventListener('abort', onRequestAbort, { once: true });
    if (requestSignal?.aborted) onRequestAbort();
    try {
      const running = runAsTask(() => original.apply(instance, cloned), {
        name: method,
        signal: controller?.signal,
      });
      const value = timed
        ? await withTimeout(
            running,
            timeout,
            `${instance.constructor.name}.${method}()`,
            controller,
          )
        : await running;
      return this.inlineResult(instance, method, value);
    } finally {
      requestSignal?.removeEventListener('abort', onRequestAbort);
    }
  }

  /** An inline call's result, copied and restored as a thread's would be. */
  private inlineResult(instance: object, method: string, value: unknown): unknown {
    const classes = findClassInstances(value);
    let result: unknown;
    try {
      result = structuredClone(value);
    } catch (error) {
      throw new OffThreadError(
        'ERR_OFFTHREAD_UNCLONEABLE' as never,
        `The result of ${instance.constructor.name}.${method}() cannot be copied from a thread: ${(error as Error).message} Return plain data.`,
        { cause: error },
      );
    }
    return this.unwrap(
      { offthreadNestResult: true, value: result, classes },
      instance.constructor.name,
      method,
    );
  }

  private unwrap(result: CallResult, className: string, method: string): unknown {
    // Results without class instances come bare (see worker-entry); an envelope's flag is own.
    if (
      result === null ||
      typeof result !== 'object' ||
      !Object.hasOwn(result, 'offthreadNestResult') ||
      result.offthreadNestResult !== true
    )
      return result;
    if (result.classes) {
      const missing = restoreClassInstances(result.value, result.classes, this.options.classes);
      for (const name of missing) {
        if (this.warned.has(name) || this.warned.size > 100) continue;
        this.warned.add(name);
        // A leak risk (serializer rules like @Exclude() no longer apply): say it once, loudly.
        this.logger.warn(
          `${className}.${method}() returned ${name} instances; they arrive as plain objects, so ClassSerializerInterceptor, @Exclude() and instanceof do not see their class. Add ${name} to the classes option of OffThreadModule.forRoot() to restore it.`,
        );
      }
    }
    return result.value;
  }

  /** Where the worker finds the provider of `instance`: checked at start-up, or worked out now. */
  private targetOf(instance: object): TargetRef {
    const byInstance = this.instanceTargets.get(instance);
    if (byInstance) return byInstance;
    const ctor = (instance as { constructor: Function }).constructor;
    const known = this.targets.get(ctor);
    if (known) return known;
    // Not seen at start-up (created with `new`, or by another app): locate it the same way.
    const target = this.locate(ctor, ctor, this.options.workerModule, false);
    this.targets.set(ctor, target);
    return target;
  }

  /**
   * Find the files of a decorated class, its injection token and the module to bootstrap for it.
   *
   * @param token what the app registered the provider under (the class for `providers: [X]`)
   * @throws {TypeError} naming the class and the fix when a file cannot be determined
   */
  locate(
    ctor: Function,
    token: unknown,
    hostModule: Function | undefined,
    transient: boolean,
  ): TargetRef {
    const fromStack = decoratedMethods(ctor.prototype)?.file;
    let classFile: string | undefined;
    let classExport = ctor.name;
    const exportName = fromStack === undefined ? undefined : exportNameIn(fromStack, ctor);
    if (fromStack !== undefined && exportName !== undefined) {
      classFile = fromStack;
      classExport = exportName;
    } else {
      // Inherited decorated methods, or a file that re-exports: the module cache knows better.
      const found = findExportingModule(ctor);
      if (!found && fromStack !== undefined) {
        if (isBundle(fromStack)) throw new TypeError(bundleAdvice(ctor.name, fromStack));
        if (isEntryFile(fromStack)) {
          throw new TypeError(
            `${ctor.name} is defined in ${displayFile(fromStack)}, the file that starts the application, and not exported from it. A worker thread loads the file of each @OffThread() provider, which would run that file's bootstrap() again. Move ${ctor.name} to a file of its own and export it from there.`,
          );
        }
      }
      classFile = found?.file ?? fromStack;
      classExport = found?.exportName ?? ctor.name;
    }
    const tokenRef = this.tokenRef(token, ctor, classFile, classExport);
    const moduleClass = this.options.workerModule ?? hostModule;
    if (!moduleClass) {
      throw new TypeError(
        `${ctor.name} has @OffThread() methods but no worker module is known for it. Pass workerModule to OffThreadModule.forRoot(), the module whose context provides ${ctor.name} in a worker thread.`,
      );
    }
    let moduleFile =
      this.options.workerModule === moduleClass
        ? existingModuleFile(this.options.workerModuleFile)
        : undefined;
    let moduleExport = moduleClass.name;
    if (moduleFile === undefined) {
      const found = findExportingModule(moduleClass);
      if (!found) {
        if (classFile !== undefined && isBundle(classFile))
          throw new TypeError(bundleAdvice(ctor.name, classFile));
        throw new TypeError(moduleFileAdvice(moduleClass.name));
      }
      moduleFile = found.file;
      moduleExport = found.exportName;
    }
    if (isEntryFile(moduleFile)) {
      throw new TypeError(
        `The worker module ${moduleClass.name} is exported from ${displayFile(moduleFile)}, the file that starts the application. Every worker thread loads the worker module's file, so each one would run that file's bootstrap() again and start its own server (listening on the same port: a crash loop). Move ${moduleClass.name} to a file of its own (e.g. ${suggestName(moduleClass.name)}) and import it from there.`,
      );
    }
    const state = sharedState();
    return {
      id: `${state.idPrefix}${state.nextId++}`,
      token: tokenRef,
      classFile,
      classExport,
      className: ctor.name,
      moduleFile,
      moduleExport,
      moduleName: moduleClass.name,
      transient,
    };
  }

  /** How the worker names `token`. */
  private tokenRef(
    token: unknown,
    ctor: Function,
    classFile: string | undefined,
    classExport: string,
  ): TokenRef {
    if (typeof token === 'string') return { kind: 'string', value: token };
    if (typeof token === 'symbol') {
      const key = Symbol.keyFor(token);
      if (key !== undefined) return { kind: 'symbol', key };
    }
    if (token === ctor) {
      if (classFile === undefined) {
        throw new TypeError(
          `@OffThread() cannot tell which file defines ${ctor.name}, so a worker thread cannot load it. Export the class from its own module (export class ${ctor.name} ...), apply @OffThread() in that class body (not through a helper in another file), and make sure it is not defined inside a function.`,
        );
      }
      return { kind: 'export', file: classFile, exportName: classExport, name: ctor.name };
    }
    // A class or unique symbol used as a token (useClass / useFactory / useExisting providers).
    const found = findExportingModule(token);
    const tokenName = describeToken(token);
    if (!found) {
      throw new TypeError(
        `${ctor.name} is provided under the token ${tokenName}, and a worker thread must resolve it by that token, but the file exporting ${tokenName} cannot be found${typeof token === 'symbol' ? ' (use Symbol.for() or a string token, which need no file)' : ''}. Export the token from a module of its own.`,
      );
    }
    return { kind: 'export', file: found.file, exportName: found.exportName, name: tokenName };
  }

  /** Stop at once, for a module whose application failed to start. */
  async abandon(): Promise<void> {
    if (sharedState().runtime === this) sharedState().runtime = undefined;
    if (this.ownsPool) await this.pool?.destroy();
  }

  /** When shutdown began (ms since epoch), and the timer that ends the calls' grace period. */
  private shutdownStarted: number | undefined;
  private shutdownTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Nest closes the HTTP server between this hook and onApplicationShutdown, and that close waits
   * for every request in flight: a request whose call never settles (no timeout) would hold the
   * process forever, whatever shutdownTimeout says. So the grace period starts when Nest closes
   * the server (not here: another beforeApplicationShutdown hook may still be serving requests
   * while a load balancer drains): calls keep running and new ones are taken, and after
   * shutdownTimeout ms the pool rejects what is left (ERR_OFFTHREAD_POOL_CLOSED, a 503), which
   * lets those requests answer and the server close. Without an HTTP server it starts here.
   */
  beforeApplicationShutdown(): void {
    const server = this.adapterHost?.httpAdapter?.getHttpServer?.() as
      | { close?: (...args: unknown[]) => unknown }
      | undefined;
    const close = server?.close;
    if (!server || typeof close !== 'function') {
      this.startShutdownGrace();
      return;
    }
    const host = this;
    // One call, then the server's own close again (Express and Fastify adapters both call it).
    server.close = function (this: unknown, ...args: unknown[]) {
      server.close = close;
      host.startShutdownGrace();
      return close.apply(this, args);
    };
  }

  private startShutdownGrace(): void {
    if (this.shutdownStarted !== undefined) return;
    this.shutdownStarted = Date.now();
    const { shutdownTimeout } = this.options;
    if (!this.ownsPool || !this.pool || shutdownTimeout === Infinity) return;
    const pool = this.pool;
    this.shutdownTimer = setTimeout(() => {
      pool.close({ timeout: 0 }).catch(() => {});
    }, shutdownTimeout);
    // Never the reason the process stays up.
    this.shutdownTimer.unref?.();
  }

  async onApplicationShutdown(): Promise<void> {
    if (sharedState().runtime === this) sharedState().runtime = undefined;
    this.pool?.off('threadStart', this.warmUp);
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
    if (!this.ownsPool) return;
    // Runs after the HTTP server closed: what is still running gets the rest of the grace period
    // that began when it started closing (all of it if it never did), then threads stop.
    const { shutdownTimeout } = this.options;
    const spent = this.shutdownStarted === undefined ? 0 : Date.now() - this.shutdownStarted;
    const timeout = shutdownTimeout === Infinity ? Infinity : Math.max(0, shutdownTimeout - spent);
    await this.pool?.close({ timeout });
  }
}

/**
 * `workerModuleFile` as it exists: `new URL('./reports.module.js', import.meta.url)` names the
 * compiled file, but under Vitest or tsx `import.meta.url` is the TypeScript source's, next to
 * which only `reports.module.ts` exists. Take the source then (and the reverse).
 *
 * @throws {TypeError} naming the option when neither exists
 */
function existingModuleFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const path = toPath(file);
  if (existsSync(path)) return file;
  const swaps: Array<[RegExp, string[]]> = [
    [/\.js$/, ['.ts', '.tsx']],
    [/\.mjs$/, ['.mts']],
    [/\.cjs$/, ['.cts']],
    [/\.ts$/, ['.js']],
    [/\.mts$/, ['.mjs']],
    [/\.cts$/, ['.cjs']],
  ];
  for (const [ext, others] of swaps) {
    if (!ext.test(path)) continue;
    for (const other of others) {
      const candidate = path.replace(ext, other);
      if (existsSync(candidate))
        return file.startsWith('file:') ? pathToFileURL(candidate).href : candidate;
    }
  }
  throw new TypeError(
    `options.workerModuleFile points to ${path}, which does not exist (nor its .ts/.js counterpart). Name the file that exports workerModule, relative to the file calling forRoot(): new URL('./reports.module.js', import.meta.url).`,
  );
}

function withTimeout(
  running: unknown,
  timeout: number,
  label: string,
  controller: AbortController | undefined,
): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new OffThreadError(
        OffThreadErrorCode.TIMEOUT,
        `${label} ran longer than its ${timeout} ms timeout (inline: the call rejects as in a thread and currentTask().signal aborts, but a body that ignores the signal keeps running on the main thread).`,
        { timeout },
      );
      controller?.abort(error);
      reject(error);
    }, timeout);
  });
  return Promise.race([Promise.resolve(running), expired]).finally(() => clearTimeout(timer));
}

function isUnknownTarget(result: unknown): result is UnknownTarget {
  return (
    result !== null &&
    typeof result === 'object' &&
    Object.hasOwn(result, 'offthreadNestUnknownTarget') &&
    (result as UnknownTarget).offthreadNestUnknownTarget === true
  );
}

function describeToken(token: unknown): string {
  if (typeof token === 'function') return token.name || '(anonymous class)';
  return String(token);
}

function toPath(file: string): string {
  return file.startsWith('file:') ? fileURLToPath(file) : file;
}

function real(file: string): string {
  try {
    return realpathSync(toPath(file));
  } catch {
    return toPath(file);
  }
}

/** Is `file` the script the process was started with (`node dist/main.js`)? */
function isEntryFile(file: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  const target = real(file);
  const started = real(entry);
  return (
    target === started ||
    target.replace(/\.[cm]?[jt]s$/, '') === started.replace(/\.[cm]?[jt]s$/, '')
  );
}

const bundleCache = new Map<string, boolean>();

/**
 * A bundle (webpack, esbuild, Rollup output) holds the app's modules in one file, with the
 * bundler's runtime helpers in it. Only asked about files whose classes are not exported.
 */
function isBundle(file: string): boolean {
  const path = toPath(file);
  let bundle = bundleCache.get(path);
  if (bundle === undefined) {
    try {
      // The runtimes of webpack and of esbuild/Rollup bundles that wrap modules.
      bundle =
        /__webpack_require__|__webpack_modules__|__commonJS\(|__esm\(|__decorateClass\(/.test(
          readFileSync(path, 'utf8').slice(0, 2_000_000),
        );
    } catch {
      bundle = false;
    }
    bundleCache.set(path, bundle);
  }
  return bundle;
}

function bundleAdvice(className: string, file: string): string {
  return `${className} is defined inside the bundle ${displayFile(file)} (webpack: nest build -b webpack or "webpack": true in nest-cli.json; or another bundler), which is also the file that starts the app. A worker thread loads the module and class files of @OffThread() providers by themselves, and a bundle has no such files: loading it would start the whole app again. Build without bundling ("builder": "tsc" or "swc" in nest-cli.json, which keeps one .js file per module), or bundle the worker module as an entry of its own and pass workerModule and workerModuleFile (its absolute path, e.g. path.join(__dirname, 'reports.module.js')) to OffThreadModule.forRoot().`;
}

function moduleFileAdvice(moduleName: string): string {
  const file = suggestName(moduleName).replace(/\.ts$/, '.js');
  return `Cannot find the file that exports the worker module ${moduleName}, which threads bootstrap to run its @OffThread() providers: it is not in the CommonJS module cache. This happens in ES module apps (Nest 12's default, or "type": "module") and under Vitest or tsx. Pass both workerModule and workerModuleFile to OffThreadModule.forRoot(): in an ES module, workerModuleFile: new URL('./${file}', import.meta.url) (the compiled file next to the one calling forRoot()); in CommonJS, workerModuleFile: require.resolve('./${file.replace(/\.js$/, '')}'); under Vitest, the .ts source file.`;
}

function suggestName(moduleName: string): string {
  const base = moduleName.replace(/Module$/, '') || moduleName;
  return `${base.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}.module.ts`;
}

function displayFile(file: string): string {
  return toPath(file);
}
