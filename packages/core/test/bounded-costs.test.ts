import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createPool, rejectionOf } from './helpers.js';

/** Read a private field of the pool: these tests check bounds on its internal structures. */
const internals = (pool: unknown) =>
  pool as {
    queue: { priorityCount: number; size: number };
    functions: { size: number };
    signals: { size: number };
  };

describe('costs that stay bounded', () => {
  it('distinct priorities leave no bucket behind once their tasks ran', async () => {
    const pool = createPool({ maxThreads: 1, maxQueue: Number.POSITIVE_INFINITY });
    const runs = Array.from({ length: 4000 }, (_, i) => pool.run(i, { priority: i * 0.5 }));
    expect(internals(pool).queue.priorityCount).toBeGreaterThan(1000);
    await Promise.all(runs);
    expect(internals(pool).queue.priorityCount).toBe(0);
  });

  it('higher priorities still run first', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, maxQueue: Number.POSITIVE_INFINITY });
    await pool.run(1);
    const order: number[] = [];
    const blocker = pool.run(100, { name: 'busy' });
    const runs = [3, 1, 7, 5, 2].map((p) => pool.run(p, { priority: p }).then(() => order.push(p)));
    await Promise.all([blocker, ...runs]);
    expect(order).toEqual([7, 5, 3, 2, 1]);
  });

  it('unknown export names leave no function record behind', async () => {
    const pool = createPool({ maxThreads: 1, maxQueue: Number.POSITIVE_INFINITY });
    await pool.run(1);
    const before = internals(pool).functions.size;
    const errors = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => rejectionOf(pool.run(1, { name: `nope${i}` }))),
    );
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_OFFTHREAD_TASK_NOT_FOUND']));
    expect(internals(pool).functions.size).toBe(before);
    // A name that failed can be asked again, and still fails the same way.
    expect((await rejectionOf(pool.run(1, { name: 'nope1' }))).code).toBe(
      'ERR_OFFTHREAD_TASK_NOT_FOUND',
    );
  });

  it('10 000 queued tasks sharing one signal: one listener, all abort, the queue is empty after', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, maxQueue: Number.POSITIVE_INFINITY });
    await pool.run(1);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const blocker = pool.run(300, { name: 'busy' });
      const controller = new AbortController();
      const runs = Array.from({ length: 10_000 }, (_, i) =>
        rejectionOf(pool.run(i, { signal: controller.signal })),
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      expect(internals(pool).signals.size).toBe(1);
      controller.abort(new Error('enough'));
      const errors = await Promise.all(runs);
      expect(errors.every((e) => e.code === 'ERR_OFFTHREAD_ABORTED')).toBe(true);
      expect(errors[0].cause.message).toBe('enough');
      expect(internals(pool).queue.size).toBe(0);
      expect(internals(pool).signals.size).toBe(0);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      await blocker;
      expect(await pool.run(1)).toBe(2);
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('the signal listener goes away when the tasks sharing it finish without an abort', async () => {
    const pool = createPool({ maxThreads: 1 });
    const controller = new AbortController();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => pool.run(i, { signal: controller.signal })),
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
