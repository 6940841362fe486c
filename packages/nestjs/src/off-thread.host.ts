import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Transferable } from 'node:worker_threads';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Pool } from '@offthread/core';
import { isOffThreadWorker } from '@offthread/core/worker';
import { exportNameIn, findExportingModule } from './class-location.js';
import { registerNestExceptions, restoreHttpException } from './http-errors.js';
import { OFFTHREAD_MODULE_OPTIONS } from './off-thread.constants.js';
import { decoratedMethods } from './off-thread.decorator.js';
import type { OffThreadOptions, ResolvedModuleOptions } from './off-thread.options.js';
import {
  type CallPayload,
  type OffThreadRuntime,
  sharedState,
  type TargetRef,
} from './protocol.js';

const kTransfer = Symbol.for('offthread.transfer');

/** The task module every pool thread loads to run `@OffThread()` methods. */
export const workerEntryFile = join(__dirname, 'worker-entry.js');

/**
 * Owns the pool of an `OffThreadModule`: starts it with the module, routes `@OffThread()` calls
 * to it, and closes it on application shutdown. Internal; inject the pool with `@InjectPool()`.
 */
@Injectable()
export class OffThreadHost implements OffThreadRuntime, OnApplicationShutdown {
  /** Null inside a pool thread: a worker context must not start threads of its own. */
  readonly pool: Pool | null;
  /** Classes checked at start-up, with where the worker finds them. */
  readonly targets = new Map<Function, TargetRef>();

  constructor(@Inject(OFFTHREAD_MODULE_OPTIONS) readonly options: ResolvedModuleOptions) {
    if (isOffThreadWorker()) {
      this.pool = null;
      return;
    }
    if (!existsSync(workerEntryFile)) {
      throw new Error(
        `@offthread/nestjs is incomplete: ${workerEntryFile} is missing. Reinstall the package.`,
      );
    }
    registerNestExceptions(options.errors);
    this.pool = new Pool(options.pool);
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
      transferList ??= [];
      transferList.push(...(options.transfer(...args) as Transferable[]));
    }
    const payload: CallPayload = {
      op: 'call',
      target,
      method,
      args,
      logger: this.options.workerLogger,
    };
    return pool
      .run(payload, {
        filename: workerEntryFile,
        timeout: options.timeout,
        priority: options.priority,
        signal: sharedState().request.getStore()?.signal,
        transferList,
      })
      .catch((error: unknown) => {
        throw restoreHttpException(error);
      });
  }

  /** Where the worker finds the class of `instance`: checked at start-up, or worked out now. */
  private targetOf(instance: object): TargetRef {
    const ctor = (instance as { constructor: Function }).constructor;
    const known = this.targets.get(ctor);
    if (known) return known;
    // Not seen at start-up (created with `new`, or by another app): locate it the same way.
    const target = this.locate(ctor, this.options.workerModule, false);
    this.targets.set(ctor, target);
    return target;
  }

  /**
   * Find the files of a decorated class and of the module to bootstrap for it.
   *
   * @throws {TypeError} naming the class and the fix when a file cannot be determined
   */
  locate(ctor: Function, hostModule: Function | undefined, transient: boolean): TargetRef {
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
      classFile = found?.file ?? fromStack;
      classExport = found?.exportName ?? ctor.name;
    }
    if (classFile === undefined) {
      throw new TypeError(
        `@OffThread() cannot tell which file defines ${ctor.name}, so a worker thread cannot load it. Export the class from its own module (export class ${ctor.name} ...), apply @OffThread() in that class body (not through a helper in another file), and make sure it is not defined inside a function.`,
      );
    }
    const moduleClass = this.options.workerModule ?? hostModule;
    if (!moduleClass) {
      throw new TypeError(
        `${ctor.name} has @OffThread() methods but no worker module is known for it. Pass workerModule to OffThreadModule.forRoot(), the module whose context provides ${ctor.name} in a worker thread.`,
      );
    }
    let moduleFile =
      this.options.workerModule === moduleClass ? this.options.workerModuleFile : undefined;
    let moduleExport = moduleClass.name;
    if (moduleFile === undefined) {
      const found = findExportingModule(moduleClass);
      if (!found) {
        throw new TypeError(
          `Cannot find the file that exports the worker module ${moduleClass.name} (needed to run ${ctor.name} off-thread): it is not in the CommonJS module cache, as happens in ES module apps. Pass both workerModule and workerModuleFile to OffThreadModule.forRoot(), e.g. { workerModule: ${moduleClass.name}, workerModuleFile: new URL('./${moduleClass.name.replace(/Module$/, '').toLowerCase()}.module.js', import.meta.url) }.`,
        );
      }
      moduleFile = found.file;
      moduleExport = found.exportName;
    }
    return {
      classFile,
      classExport,
      className: ctor.name,
      moduleFile,
      moduleExport,
      moduleName: moduleClass.name,
      transient,
    };
  }

  /** Stop at once, for a module whose application failed to start. */
  async abandon(): Promise<void> {
    if (sharedState().runtime === this) sharedState().runtime = undefined;
    await this.pool?.destroy();
  }

  async onApplicationShutdown(): Promise<void> {
    if (sharedState().runtime === this) sharedState().runtime = undefined;
    // Runs after the HTTP server stopped taking requests: calls in flight finish, then threads stop.
    await this.pool?.close({ timeout: this.options.shutdownTimeout });
  }
}
