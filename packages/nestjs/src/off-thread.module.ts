import {
  type DynamicModule,
  Global,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { OFFTHREAD_MODULE_OPTIONS, OFFTHREAD_POOL } from './off-thread.constants.js';
import { OffThreadExplorer } from './off-thread.explorer.js';
import { OffThreadHost } from './off-thread.host.js';
import { OffThreadInterceptor } from './off-thread.interceptor.js';
import { type OffThreadModuleOptions, resolveModuleOptions } from './off-thread.options.js';

/** A class that makes the options, for `forRootAsync({ useClass })`. */
export interface OffThreadOptionsFactory {
  createOffThreadOptions(): OffThreadModuleOptions | Promise<OffThreadModuleOptions>;
}

/** Options of `OffThreadModule.forRootAsync()`: one of `useFactory`, `useClass`, `useExisting`. */
export interface OffThreadModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Makes the options, e.g. from ConfigService. */
  useFactory?: (...args: any[]) => OffThreadModuleOptions | Promise<OffThreadModuleOptions>;
  /** Providers passed to `useFactory`. Defaults to none. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** A class implementing {@link OffThreadOptionsFactory}, instantiated by the module. */
  useClass?: Type<OffThreadOptionsFactory>;
  /** An existing provider implementing {@link OffThreadOptionsFactory}. */
  useExisting?: Type<OffThreadOptionsFactory>;
}

/**
 * Runs `@OffThread()` methods in a worker-thread pool. Import it once, in the root module; it is
 * global. The pool starts with the module (its `minThreads` warm), every `@OffThread()` provider
 * is checked at start-up, and the pool closes on application shutdown, letting calls in flight
 * finish for up to `shutdownTimeout` ms.
 *
 * @example
 * \@Module({ imports: [OffThreadModule.forRoot({ maxThreads: 4, workerModule: ReportsWorkerModule })] })
 * export class AppModule {}
 */
@Global()
@Module({})
export class OffThreadModule {
  /**
   * Configure the module with static options.
   *
   * @param options pool options and module options; see {@link OffThreadModuleOptions}
   * @throws {TypeError | RangeError} naming the option when one is invalid
   */
  static forRoot(options: OffThreadModuleOptions = {}): DynamicModule {
    const resolved = resolveModuleOptions(options);
    return OffThreadModule.build([], { provide: OFFTHREAD_MODULE_OPTIONS, useValue: resolved });
  }

  /**
   * Configure the module with options made by a provider, e.g. from ConfigService:
   * `forRootAsync({ imports: [ConfigModule], inject: [ConfigService], useFactory: (config) => ({ maxThreads: config.get('THREADS') }) })`.
   *
   * @throws {TypeError} when none of useFactory, useClass, useExisting is given; option errors
   * are thrown at start-up, naming the option
   */
  static forRootAsync(options: OffThreadModuleAsyncOptions): DynamicModule {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(
        'OffThreadModule.forRootAsync(options) needs an object with useFactory, useClass or useExisting',
      );
    }
    const extra: Provider[] = [];
    let optionsProvider: Provider;
    if (options.useFactory) {
      const factory = options.useFactory;
      optionsProvider = {
        provide: OFFTHREAD_MODULE_OPTIONS,
        useFactory: async (...args: unknown[]) => resolveModuleOptions(await factory(...args)),
        inject: options.inject ?? [],
      };
    } else if (options.useClass || options.useExisting) {
      const token = (options.useClass ?? options.useExisting)!;
      if (options.useClass) extra.push({ provide: token, useClass: options.useClass });
      optionsProvider = {
        provide: OFFTHREAD_MODULE_OPTIONS,
        useFactory: async (factory: OffThreadOptionsFactory) =>
          resolveModuleOptions(await factory.createOffThreadOptions()),
        inject: [token],
      };
    } else {
      throw new TypeError(
        'OffThreadModule.forRootAsync(options) needs options.useFactory, options.useClass or options.useExisting',
      );
    }
    return OffThreadModule.build(options.imports ?? [], optionsProvider, extra);
  }

  private static build(
    imports: ModuleMetadata['imports'],
    optionsProvider: Provider,
    extra: Provider[] = [],
  ): DynamicModule {
    return {
      module: OffThreadModule,
      global: true,
      imports: [DiscoveryModule, ...(imports ?? [])],
      providers: [
        optionsProvider,
        ...extra,
        OffThreadHost,
        OffThreadExplorer,
        {
          provide: OFFTHREAD_POOL,
          useFactory: (host: OffThreadHost) => host.pool,
          inject: [OffThreadHost],
        },
        { provide: APP_INTERCEPTOR, useClass: OffThreadInterceptor },
      ],
      exports: [OFFTHREAD_POOL, OFFTHREAD_MODULE_OPTIONS],
    };
  }
}
