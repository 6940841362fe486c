import { OffThreadError } from '@offthread/core';
import {
  createStartupRegistry,
  processSingleton,
  retryWhileQueueFull,
} from '@offthread/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf } from './helpers.js';

const loader = fixture('adapter/load-export-task.mjs');
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
process.on('warning', onWarning);
afterEach(() => {
  warnings.length = 0;
});

const failed = (message: string) =>
  Promise.reject(new OffThreadError('ERR_OFFTHREAD_WORKER_INIT', message));

describe('start-up checks', () => {
  it('ready() rejects for a check that failed long before it was called', async () => {
    const registry = createStartupRegistry();
    registry.track(failed('the route module threw on load'));
    registry.track(Promise.resolve());
    await new Promise((r) => setTimeout(r, 200)); // the app does other start-up work
    const error = await rejectionOf(registry.ready());
    expect(error.message).toBe('the route module threw on load');
  });

  it('ready() rejects for every failure, with an AggregateError when there are several', async () => {
    const registry = createStartupRegistry();
    registry.track(failed('first'));
    registry.track(failed('second'));
    await new Promise((r) => setTimeout(r, 50));
    const error = await rejectionOf(registry.ready());
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.errors.map((e: Error) => e.message)).toEqual(['first', 'second']);
    expect(error.message).toContain('2 start-up checks failed');
    // Still failing later: a failure does not disappear once reported.
    expect((await rejectionOf(registry.ready())).errors).toHaveLength(2);
  });

  it('a closed pool is not a failed check', async () => {
    const registry = createStartupRegistry();
    registry.track(Promise.reject(new OffThreadError('ERR_OFFTHREAD_POOL_CLOSED', 'closed')));
    await expect(registry.ready()).resolves.toBeUndefined();
  });

  it('prints no warning for a failure handled through ready(), and one for an unhandled failure', async () => {
    const registry = createStartupRegistry();
    const handled = registry.track(failed('handled'), { warnAfter: 100 });
    const unhandled = createStartupRegistry().track(failed('nobody looked'), { warnAfter: 100 });
    await rejectionOf(registry.ready());
    await new Promise((r) => setTimeout(r, 300));
    handled.warnIfUnhandled();
    expect(warnings.map((w) => w.message)).toEqual(['nobody looked']);
    unhandled.warnIfUnhandled(); // printed once only
    expect(warnings).toHaveLength(1);
  });

  it('retries a check while the queue is full instead of failing start-up', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, maxQueue: 1 });
    await pool.run(1);
    const running = Promise.allSettled([1, 2, 3, 4].map(() => pool.run(100, { name: 'busy' })));
    expect((await rejectionOf(pool.run(41))).code).toBe('ERR_OFFTHREAD_QUEUE_FULL');
    await expect(retryWhileQueueFull(() => pool.run(41))).resolves.toBe(42);
    await running;
  });

  it('processSingleton gives every caller of one key the same value', () => {
    const a = processSingleton('offthread.test.singleton', () => ({ n: 1 }));
    const b = processSingleton('offthread.test.singleton', () => ({ n: 2 }));
    expect(b).toBe(a);
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('offthread.test.singleton')]).toBe(a);
  });
});

describe('loadExport (in a pool thread)', () => {
  it('loads a default export, also from CommonJS compiled from ESM', async () => {
    const pool = createPool({ maxThreads: 1, filename: loader });
    await expect(pool.run({ filename: fixture('tasks.mjs').pathname, call: 1 })).resolves.toBe(2);
    await expect(
      pool.run({ filename: fixture('adapter/cjs-compiled-esm.cjs').pathname, call: 2 }),
    ).resolves.toBe(20);
  });

  it('names the module and gives advice when the export is missing or the module throws', async () => {
    const pool = createPool({ maxThreads: 1, filename: loader });
    const missing = await rejectionOf(
      pool.run({ filename: fixture('tasks.mjs').pathname, name: 'notAFunction' }),
    );
    expect(missing.code).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
    expect(missing.message).toContain('has no export named "notAFunction" that is a function');
    const inherited = await rejectionOf(
      pool.run({ filename: fixture('tasks.mjs').pathname, name: 'toString' }),
    );
    expect(inherited.code).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
    const broken = await rejectionOf(
      pool.run({ filename: fixture('adapter/throws-on-load.mjs').pathname }),
    );
    expect(broken.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
    expect(broken.message).toContain('The handler module');
    expect(broken.message).toContain('the database URL is not set');
  });
});
