import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Pool } from '@offthread/core';
import { OffThreadError, OffThreadErrorCode } from '@offthread/core';
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

  it('pool options are validated by the pool, at start-up', async () => {
    const compiling = Test.createTestingModule({
      imports: [OffThreadModule.forRoot({ maxThreads: 0 })],
    }).compile();
    await expect(compiling).rejects.toThrow(/options\.maxThreads must be a positive integer/);
  });

  it('rejects invalid @OffThread() options when the class is defined', () => {
    expect(() => OffThread({ timeout: -1 })).toThrow(
      /@OffThread\(\) options\.timeout must be a number of milliseconds >= 0/,
    );
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

describe('toHttpException', () => {
  it('maps queue full to 503, timeout to 504, abort to 499, and leaves other errors alone', () => {
    const full = toHttpException(new OffThreadError(OffThreadErrorCode.QUEUE_FULL, 'full')) as {
      getStatus(): number;
    };
    expect(full.getStatus()).toBe(503);
    const timeout = toHttpException(new OffThreadError(OffThreadErrorCode.TIMEOUT, 'slow')) as {
      getStatus(): number;
    };
    expect(timeout.getStatus()).toBe(504);
    const aborted = toHttpException(new OffThreadError(OffThreadErrorCode.ABORTED, 'gone')) as {
      getStatus(): number;
    };
    expect(aborted.getStatus()).toBe(499);
    const crash = new OffThreadError(OffThreadErrorCode.WORKER_EXIT, 'crash');
    expect(toHttpException(crash)).toBe(crash);
    const plain = new Error('x');
    expect(toHttpException(plain)).toBe(plain);
  });
});
