import { Inject, Injectable, type OnModuleInit, Scope } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { OffThreadError, OffThreadErrorCode } from '@offthread/core';
import { isOffThreadWorker } from '@offthread/core/worker';
import { decoratedMethods } from './off-thread.decorator.js';
import { OffThreadHost, workerEntryFile } from './off-thread.host.js';
import type { CheckPayload, DecoratedMethod, TargetRef } from './protocol.js';

interface Wrapper {
  name: unknown;
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
  ) {}

  async onModuleInit(): Promise<void> {
    if (isOffThreadWorker() || !this.host.pool) return;
    try {
      await this.explore();
    } catch (error) {
      // The app will not start: do not leave threads behind it.
      await this.host.abandon();
      throw error;
    }
  }

  private async explore(): Promise<void> {
    const problems: string[] = [];
    const found = new Map<Function, { target: TargetRef; methods: string[] }>();
    const wrappers = [
      ...this.discovery.getProviders(),
      ...this.discovery.getControllers(),
    ] as unknown as Wrapper[];
    for (const wrapper of wrappers) {
      const ctor = classOf(wrapper);
      if (!ctor || found.has(ctor)) continue;
      const decorated = decoratedMethods(ctor.prototype);
      if (!decorated) continue;
      const before = problems.length;
      if (wrapper.scope === Scope.REQUEST || !wrapper.isDependencyTreeStatic()) {
        problems.push(
          `${ctor.name} is request-scoped${wrapper.scope === Scope.REQUEST ? '' : ' (it depends on a request-scoped provider)'}, so a worker thread has no request to build it for. Move the @OffThread() methods to a singleton provider and pass request data as arguments.`,
        );
      }
      for (const [name, method] of decorated.methods) {
        if (!isAsyncMethod(ctor.prototype, name, method)) {
          problems.push(
            `${ctor.name}.${name}() has @OffThread() but is not async: calling it returns a promise, so declare it \`async ${name}(...): Promise<...>\`.`,
          );
        }
      }
      if (problems.length > before) continue;
      try {
        const target = this.host.locate(
          ctor,
          wrapper.host?.metatype,
          wrapper.scope === Scope.TRANSIENT,
        );
        found.set(ctor, { target, methods: [...decorated.methods.keys()] });
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    if (problems.length) {
      throw new TypeError(
        `OffThreadModule found ${problems.length === 1 ? 'a problem' : `${problems.length} problems`} with @OffThread() methods:\n- ${problems.join('\n- ')}`,
      );
    }
    for (const [ctor, { target }] of found) this.host.targets.set(ctor, target);
    if (this.host.options.preflight && found.size) await this.preflight([...found.values()]);
  }

  /** Bootstrap each worker module in threads (one check per warm thread) and resolve its classes. */
  private async preflight(found: Array<{ target: TargetRef; methods: string[] }>): Promise<void> {
    const pool = this.host.pool!;
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
    await pool.preload({ filename: workerEntryFile });
    this.host.warmUpPayloads = [...byModule.values()];
    // As many checks as warm threads: they spread over the threads and leave each one with a
    // ready context, so the first requests do not pay for the bootstrap.
    const copies = Math.max(1, pool.options.minThreads);
    const checks: Promise<unknown>[] = [];
    for (const check of byModule.values()) {
      for (let i = 0; i < copies; i++) checks.push(pool.run(check, { filename: workerEntryFile }));
    }
    const results = await Promise.allSettled(checks);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      const cause = failure.reason as Error;
      throw new OffThreadError(
        OffThreadErrorCode.WORKER_INIT,
        `OffThreadModule could not prepare its worker threads: ${cause?.message ?? cause}`,
        { cause, filename: workerEntryFile },
      );
    }
  }
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
