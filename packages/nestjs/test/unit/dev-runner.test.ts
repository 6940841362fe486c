import { threadId } from 'node:worker_threads';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { OffThreadModule } from '@offthread/nestjs';
import { describe, expect, it } from 'vitest';
import { DevModule, GreeterService } from '../fixtures/dev/dev.module.js';

describe('development: TypeScript sources run by Vitest, loaded by tsx in the worker', () => {
  it('finds the class file from the stack and runs the method in a thread', async () => {
    @Module({
      imports: [
        OffThreadModule.forRoot({
          maxThreads: 1,
          workerModule: DevModule,
          // Vitest's modules are not in the CommonJS cache: name the worker module's file. The
          // compiled name, as in an app, resolves to the TypeScript source that exists here.
          workerModuleFile: new URL('../fixtures/dev/dev.module.js', import.meta.url),
        }),
        DevModule,
      ],
    })
    class DevAppModule {}
    // Not a testing module: threads, with the worker loading TypeScript through tsx.
    const app = await NestFactory.createApplicationContext(DevAppModule, {
      logger: false,
      abortOnError: false,
    });
    try {
      const result = await app.get(GreeterService).greet('worker');
      expect(result.text).toBe('Hello, worker');
      expect(result.threadId).not.toBe(threadId);
    } finally {
      await app.close();
    }
  });
});
