import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { OffThreadError, OffThreadErrorCode, Pool } from '@offthread/core';
import {
  InjectPool,
  OFFTHREAD_POOL,
  OffThread,
  OffThreadModule,
  type OffThreadOptionsFactory,
  toHttpException,
} from '@offthread/nestjs';
import { describe, expect, it } from 'vitest';

describe('OffThreadModule options', () => {
  it('rejects invalid module options, naming them', () => {
    expect(() => OffThreadModule.forRoot({ workerModule: 'ReportsModule' as never })).toThrow(
      /options\.workerModule must be a Nest module class/,
    );
    expect(() => OffThreadModule.forRoot({ retryAfter: -1 })).toThrow(
      /options\.retryAfter must be a whole number/,
    );
    expect(() => OffThreadModule.forRoot({ shutdownTimeout: -5 })).toThrow(RangeError);
    expect(() => OffThreadModule.forRoot({ workerModuleFile: 'relative/file.js' })).toThrow(
      /options\.workerModuleFile must be an absolute path/,
    );
    expect(() => OffThreadModule.forRootAsync({} as never)).toThrow(
      /needs options\.useFactory, options\.useClass or options\.useExisting/,
    );
  });

  it('a shutdownTimeout longer than a timer can hold is refused by forRoot(), not at shutdown', () => {
    expect(() => OffThreadModule.forRoot({ shutdownTimeout: 3e9 })).toThrow(
      /options\.shutdownTimeout must be at most 2147483647 ms.*or Infinity/,
    );
    expect(() =>
      OffThreadModule.forRoot({ shutdownTimeout: Number.POSITIVE_INFINITY }),
    ).not.toThrow();
    expect(() => OffThreadModule.forRoot({ shutdownTimeout: 0 })).not.toThrow();
  });

  it('taskTimeout and queueTimeout of 0, which would fail every call, are refused as @OffThread({ timeout: 0 }) is', () => {
    expect(() => OffThreadModule.forRoot({ taskTimeout: 0 })).toThrow(
      /options\.taskTimeout must be > 0 ms, got 0\. Use Infinity for no limit/,
    );
    expect(() => OffThreadModule.forRoot({ queueTimeout: 0 })).toThrow(
      /options\.queueTimeout must be > 0 ms, got 0\. Use Infinity for no limit/,
    );
    expect(() =>
      OffThreadModule.forRoot({
        taskTimeout: Number.POSITIVE_INFINITY,
        queueTimeout: Number.POSITIVE_INFINITY,
      }),
    ).not.toThrow();
  });

  it('a misspelt module option names the option meant, not the pool options', () => {
    expect(() => OffThreadModule.forRoot({ workerModul: class {} } as never)).toThrow(
      /options\.workerModul is not an option of OffThreadModule: did you mean options\.workerModule\?/,
    );
    expect(() => OffThreadModule.forRoot({ retryafter: 2 } as never)).toThrow(
      /did you mean options\.retryAfter\?/,
    );
    // Pool options are not mistaken for near misses of module options.
    expect(() =>
      OffThreadModule.forRoot({ maxThreads: 2, queueTimeout: 100, name: 'x', env: {} }),
    ).not.toThrow();
  });

  it('pool options are validated by the pool, at start-up', async () => {
    const compiling = Test.createTestingModule({
      imports: [OffThreadModule.forRoot({ maxThreads: 0 })],
    }).compile();
    await expect(compiling).rejects.toThrow(/options\.maxThreads must be a positive integer/);
  });

  it('an environment string such as "3" for a numeric pool option names the option and the conversion', async () => {
    const compiling = Test.createTestingModule({
      imports: [
        OffThreadModule.forRootAsync({
          useFactory: () => ({ maxThreads: '3' as unknown as number }),
        }),
      ],
    }).compile();
    await expect(compiling).rejects.toThrow(
      /options\.maxThreads must be a number, got the string "3".*Number\(/,
    );
  });

  it('accepts any TaskPool as options.pool, uses it, and leaves it open on shutdown', async () => {
    const pool = new Pool({ maxThreads: 1, name: 'app-owned' });
    try {
      expect(() => OffThreadModule.forRoot({ pool: pool as never, maxThreads: 2 })).toThrow(
        /options\.pool cannot be combined with pool options \(options\.maxThreads\)/,
      );
      expect(() => OffThreadModule.forRoot({ pool: {} as never })).toThrow(
        /options\.pool must be a pool of @offthread\/core/,
      );
      const moduleRef = await Test.createTestingModule({
        imports: [OffThreadModule.forRoot({ pool: pool as never })],
      }).compile();
      expect(moduleRef.get(OFFTHREAD_POOL)).toBe(pool);
      await moduleRef.close();
      // Not the module's to close.
      await expect(
        pool.run(2, { filename: new URL('../fixtures/tasks/double.mjs', import.meta.url) }),
      ).resolves.toBe(4);
    } finally {
      await pool.destroy();
    }
  });

  it('rejects invalid @OffThread() options when the class is defined', () => {
    expect(() => OffThread({ timeout: -1 })).toThrow(
      /@OffThread\(\) options\.timeout must be a number of milliseconds > 0/,
    );
    // The rule of every offthread adapter (@offthread/core/adapter): 0 is not "no limit".
    expect(() => OffThread({ timeout: 0 })).toThrow(/must be > 0 ms, got 0\. Use Infinity/);
    expect(() => OffThread({ queueTimeout: 0 })).toThrow(/options\.queueTimeout must be > 0 ms/);
    expect(() => OffThread({ timeout: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => OffThread({ retries: 3 } as never)).toThrow(
      /@OffThread\(\) options\.retries is not an option/,
    );
  });
});

describe('@InjectPool() and forRootAsync({ useClass })', () => {
  it('injects the module’s pool, configured by an options factory, and closes it with the app', async () => {
    @Injectable()
    class PoolSettings implements OffThreadOptionsFactory {
      createOffThreadOptions() {
        return { maxThreads: 1, minThreads: 1, name: 'from-factory' };
      }
    }
    @Injectable()
    class UsesPool {
      constructor(@InjectPool() readonly pool: Pool) {}
    }
    @Module({
      imports: [OffThreadModule.forRootAsync({ useClass: PoolSettings })],
      providers: [UsesPool],
    })
    class TestAppModule {}

    const moduleRef = await Test.createTestingModule({ imports: [TestAppModule] }).compile();
    const app = await moduleRef.init();
    const pool = app.get(UsesPool).pool;
    expect(pool).toBe(app.get(OFFTHREAD_POOL));
    expect(pool.options).toMatchObject({ maxThreads: 1, name: 'from-factory' });
    await app.close();
    expect(pool.threadCount).toBe(0);
    await expect(pool.run(1)).rejects.toMatchObject({ code: OffThreadErrorCode.POOL_CLOSED });
  });
});

describe('toHttpException: the one table of @offthread adapters', () => {
  const status = (code: string) =>
    (
      toHttpException(new OffThreadError(code as never, 'x')) as { getStatus(): number }
    ).getStatus();

  it.each([
    [OffThreadErrorCode.QUEUE_FULL, 503],
    ['ERR_OFFTHREAD_QUEUE_TIMEOUT', 503],
    [OffThreadErrorCode.POOL_CLOSED, 503],
    [OffThreadErrorCode.TIMEOUT, 503],
    [OffThreadErrorCode.WORKER_EXIT, 500],
    [OffThreadErrorCode.OUT_OF_MEMORY, 500],
    [OffThreadErrorCode.WORKER_INIT, 500],
    [OffThreadErrorCode.UNCLONEABLE, 500],
    // Aborted by someone else's signal: the server gave up on it.
    [OffThreadErrorCode.ABORTED, 500],
  ])('%s answers %i', (code, expected) => {
    expect(status(code)).toBe(expected);
  });

  it('an abort caused by the request’s own signal (the client left) answers 499: nothing is sent', () => {
    const controller = new AbortController();
    controller.abort();
    const mapped = toHttpException(
      new OffThreadError(OffThreadErrorCode.ABORTED, 'gone'),
      controller.signal,
    ) as { getStatus(): number };
    expect(mapped.getStatus()).toBe(499);
  });

  it('a 500 body carries neither the file path nor the source of the pool error', () => {
    const error = new OffThreadError(
      OffThreadErrorCode.UNCLONEABLE,
      '() => 1 could not be cloned in /srv/app/dist/report.service.js',
    );
    const mapped = toHttpException(error) as { getResponse(): unknown; cause: unknown };
    expect(JSON.stringify(mapped.getResponse())).not.toMatch(/srv|=>/);
    expect(mapped.getResponse()).toMatchObject({
      statusCode: 500,
      code: 'ERR_OFFTHREAD_UNCLONEABLE',
    });
    expect(mapped.cause).toBe(error);
  });

  it('leaves the app’s own errors alone', () => {
    const plain = new Error('x');
    expect(toHttpException(plain)).toBe(plain);
  });
});
