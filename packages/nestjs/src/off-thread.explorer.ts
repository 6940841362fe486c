import { Inject, Injectable, type OnModuleInit, Scope } from '@nestjs/common';
import { DiscoveryService, ModulesContainer } from '@nestjs/core';
import { OffThreadError, OffThreadErrorCode } from '@offthread/core';
import { retryWhileQueueFull } from '@offthread/core/adapter';
import { isOffThreadWorker } from '@offthread/core/worker';
import { decoratedMethods } from './off-thread.decorator.js';
import { OffThreadHost, workerEntryFile } from './off-thread.host.js';
import type { CheckPayload, DecoratedMethod, TargetRef } from './protocol.js';

interface Wrapper {
  name: unknown;
  token?: unknown;
  isAlias?: boolean;
  metatype: Function | null;
  inject?: unknown[] | null;
  instance: unknown;
  scope?: Scope;
  host?: { metatype: Function } | null;
  isDependencyTreeStatic(): boolean;
}

/**
 * Finds every provider and controller with `@OffThread()` methods when the module starts,
 * rejects those that cannot run in a thread, and asks a thread to construct them, so that
 * mistakes fail `app.init()` rather than the first call.
 */
@Injectable()
export class OffThreadExplorer implements OnModuleInit {
  constructor(
    // Explicit tokens: the build does not emit decorator metadata.
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(OffThreadHost) private readonly host: OffThreadHost,
    @Inject(ModulesContainer) private readonly modules: ModulesContainer,
  ) {}

  async onModuleInit(): Promise<void> {
    if (isOffThreadWorker() || !this.host.pool) return;
    // Test.createTestingModule() names its root module RootTestModule: there, by default, calls
    // run inline so that overrideProvider() replacements are what the methods see.
    if (this.host.options.inline === 'auto') this.host.inline = this.isTestingModule();
    try {
      await this.explore();
    } catch (error) {
      // The app will not start: do not leave threads behind it.
      await this.host.abandon();
      throw error;
    }
  }

  private async explore(): Promise<void> {
    let problems: string[] = [];
    const found = new Map<Function, { target: TargetRef; methods: string[] }>();
    const instances: Array<[object, TargetRef]> = [];
    const wrappers = [
      ...this.discovery.getProviders(),
      ...this.discovery.getControllers(),
    ] as unknown as Wrapper[];
    for (const wrapper of wrappers) {
      const ctor = classOf(wrapper);
      if (!ctor) continue;
      const decorated = decoratedMethods(ctor.prototype);
      if (!decorated) continue;
      const known = found.get(ctor);
      if (known) {
        // The same class under another token: calls on that instance go by its own token.
        if (
          !this.host.inline &&
          !wrapper.isAlias &&
          isObject(wrapper.instance) &&
          wrapper.scope !== Scope.TRANSIENT
        ) {
          try {
            instances.push([
              wrapper.instance,
              this.host.locate(ctor, tokenOf(wrapper), wrapper.host?.metatype, false),
            ]);
          } catch (error) {
            problems.push((error as Error).message);
          }
        }
        continue;
      }
      const before = problems.length;
      if (wrapper.scope === Scope.REQUEST || !wrapper.isDependencyTreeStatic()) {
        problems.push(
          `${ctor.name} is request-scoped${wrapper.scope === Scope.REQUEST ? '' : ' (it depends on a request-scoped provider)'}, so a worker thread has no request to build it for. Move the @OffThread() methods to a singleton provider and pass request data as arguments.`,
        );
      }
      if (!wrapper.inject && lacksMetadata(ctor)) {
        problems.push(
          `${ctor.name} has constructor parameters but no decorator metadata, so Nest injects undefined for them. This code was compiled without emitDecoratorMetadata (esbuild, tsx and Vitest's default transform emit none): under Vitest add unplugin-swc (plugins: [swc.vite()]), under Jest use ts-jest or @swc/jest, or inject each parameter with @Inject(Token).`,
        );
      }
      for (const [name, method] of decorated.methods) {
        if (!isAsyncMethod(ctor.prototype, name, method)) {
          problems.push(
            `${ctor.name}.${name}() has @OffThread() but is not async: calling it returns a promise, so declare it \`async ${name}(...): Promise<...>\`.`,
          );
        }
      }
      // Inline, nothing is loaded in a thread: files and tokens need not be found.
      if (problems.length > before) continue;
      if (this.host.inline) {
        found.set(ctor, { target: undefined as never, methods: [] });
        continue;
      }
      try {
        const target = this.host.locate(
          ctor,
          tokenOf(wrapper),
          wrapper.host?.metatype,
          wrapper.scope === Scope.TRANSIENT,
        );
        found.set(ctor, { target, methods: [...decorated.methods.keys()] });
        if (isObject(wrapper.instance) && wrapper.scope !== Scope.TRANSIENT)
          instances.push([wrapper.instance, target]);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    if (problems.length) {
      // One line per problem: providers of one worker module share its (missing) file.
      problems = [...new Set(problems)];
      throw new TypeError(
        `OffThreadModule found ${problems.length === 1 ? 'a problem' : `${problems.length} problems`} with @OffThread() methods:\n- ${problems.join('\n- ')}`,
      );
    }
    if (this.host.inline) return;
    for (const [ctor, { target }] of found) this.host.targets.set(ctor, target);
    for (const [instance, target] of instances) this.host.instanceTargets.set(instance, target);
    if (this.host.inline) return;
    if (this.host.options.preflight && found.size) await this.preflight([...found.values()]);
  }

  private isTestingModule(): boolean {
    for (const module of this.modules.values()) {
      if ((module as { metatype?: Function }).metatype?.name === 'RootTestModule') return true;
    }
    return false;
  }

  /**
   * When the worker could not construct a provider because a dependency is missing, and the app
   * has that dependency from a global module, name the module the worker module must import.
   */
  private globalModuleHint(message: string, workerModuleName: string): string {
    // Nest: "... Please make sure that the argument ConfigService at index [0] is available ...".
    const wanted = /argument "?([\w$]+)"? at index/.exec(message)?.[1];
    const globals: string[] = [];
    let provider: string | undefined;
    for (const module of this.modules.values()) {
      const m = module as unknown as {
        isGlobal?: boolean;
        metatype?: Function;
        exports?: Set<unknown>;
        providers?: Map<unknown, unknown>;
      };
      if (!m.isGlobal || !m.metatype || m.metatype.name === 'OffThreadModule') continue;
      if (m.metatype.name === 'InternalCoreModule') continue;
      globals.push(m.metatype.name);
      if (wanted && provider === undefined) {
        for (const token of m.exports ?? []) {
          const name = typeof token === 'function' ? token.name : String(token);
          if (name === wanted) provider = m.metatype.name;
        }
      }
    }
    if (provider !== undefined) {
      return ` ${wanted} comes from ${provider}, a global module of the app (e.g. ${provider}.forRoot({ isGlobal: true }) in AppModule). Global modules registered by the app are not part of the worker thread's context: ${workerModuleName} must import ${provider} itself (imports: [${provider}.forRoot(...)]).`;
    }
    if (globals.length) {
      return ` If the missing provider comes from a global module of the app (${globals.join(', ')}), note that global modules registered by the app are not part of the worker thread's context: ${workerModuleName} must import that module itself.`;
    }
    return '';
  }

  /** Bootstrap each worker module in threads (one check per warm thread) and resolve its classes. */
  private async preflight(found: Array<{ target: TargetRef; methods: string[] }>): Promise<void> {
    const pool = this.host.pool!;
    const minThreads = (pool as { options?: { minThreads?: unknown } }).options?.minThreads;
    const byModule = new Map<string, CheckPayload>();
    for (const { target, methods } of found) {
      const key = `${target.moduleFile}#${target.moduleExport}`;
      let check = byModule.get(key);
      if (!check) {
        const { moduleFile, moduleExport, moduleName } = target;
        check = {
          op: 'check',
          module: { moduleFile, moduleExport, moduleName },
          targets: [],
          logger: this.host.options.workerLogger,
        };
        byModule.set(key, check);
      }
      check.targets.push({ ...target, methods });
    }
    try {
      await retryWhileQueueFull(() => pool.preload({ filename: workerEntryFile }));
    } catch (error) {
      throw new OffThreadError(
        OffThreadErrorCode.WORKER_INIT,
        `OffThreadModule could not load its worker entry in a thread: ${(error as Error)?.message ?? error}`,
        { cause: error, filename: workerEntryFile },
      );
    }
    this.host.warmUpPayloads = [...byModule.values()];
    // As many checks as warm threads: they spread over the threads and leave each one with a
    // ready context, so the first requests do not pay for the bootstrap.
    const copies = typeof minThreads === 'number' && minThreads > 1 ? minThreads : 1;
    const checks: Promise<unknown>[] = [];
    for (const check of byModule.values()) {
      for (let i = 0; i < copies; i++) {
        // The core's start-up rule: a queue full of other work delays the check, never fails it.
        checks.push(retryWhileQueueFull(() => pool.run(check, { filename: workerEntryFile })));
      }
    }
    const results = await Promise.allSettled(checks);
    const index = results.findIndex((r) => r.status === 'rejected');
    if (index !== -1) {
      const cause = (results[index] as PromiseRejectedResult).reason as Error;
      const message = String(cause?.message ?? cause);
      const moduleName = [...byModule.values()][Math.floor(index / copies)]?.module.moduleName;
      const hint = /resolve|dependenc/i.test(message)
        ? this.globalModuleHint(message, moduleName ?? 'the worker module')
        : '';
      throw new OffThreadError(
        OffThreadErrorCode.WORKER_INIT,
        `OffThreadModule could not prepare its worker threads: ${message}${hint}`,
        { cause, filename: workerEntryFile },
      );
    }
  }
}

/** A class Nest constructs with arguments it cannot know: no `design:paramtypes`, no `@Inject()`s. */
function lacksMetadata(ctor: Function): boolean {
  if (ctor.length === 0) return false;
  const reflect = Reflect as unknown as {
    getMetadata?: (key: string, target: object) => unknown;
  };
  if (typeof reflect.getMetadata !== 'function') return true;
  if (reflect.getMetadata('design:paramtypes', ctor) !== undefined) return false;
  const explicit = reflect.getMetadata('self:paramtypes', ctor) as unknown[] | undefined;
  return (explicit?.length ?? 0) < ctor.length;
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}

/** The token a provider is registered under (`provide`), the class for `providers: [X]`. */
function tokenOf(wrapper: Wrapper): unknown {
  return wrapper.token ?? wrapper.name;
}

function classOf(wrapper: Wrapper): Function | undefined {
  const instance = wrapper.instance as { constructor?: Function } | null | undefined;
  // Factory providers: the class is only known from the instance they made.
  if (wrapper.inject)
    return instance && typeof instance === 'object' ? instance.constructor : undefined;
  return typeof wrapper.metatype === 'function' ? wrapper.metatype : undefined;
}

/** `async` methods, and methods compiled down from `async` or declared to return a Promise. */
function isAsyncMethod(prototype: object, name: string, method: DecoratedMethod): boolean {
  const fn = method.original;
  if (fn.constructor?.name === 'AsyncFunction') return true;
  const reflect = Reflect as unknown as {
    getMetadata?: (key: string, target: object, property: string) => unknown;
  };
  if (reflect.getMetadata?.('design:returntype', prototype, name) === Promise) return true;
  // Down-levelled output: tsc's __awaiter, SWC/Babel's _async_to_generator.
  return /__awaiter|_async_to_generator|asyncToGenerator/.test(
    Function.prototype.toString.call(fn),
  );
}
