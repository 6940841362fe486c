import { Pool } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, rejectionOf, tasks } from './helpers.js';

describe('bad input', () => {
  it('an uncloneable argument rejects with ERR_OFFTHREAD_UNCLONEABLE; other tasks in the batch run', async () => {
    const pool = createPool({ maxThreads: 1 });
    const good = pool.run(1);
    const bad = pool.run({ fn: () => 1 });
    const alsoGood = pool.run(2);
    const error = await rejectionOf(bad);
    expect(error.code).toBe('ERR_OFFTHREAD_UNCLONEABLE');
    expect(error.message).toMatch(/could not be sent to a worker thread/);
    expect(await good).toBe(2);
    expect(await alsoGood).toBe(3);
  });

  it('an uncloneable result rejects with ERR_OFFTHREAD_UNCLONEABLE and the thread survives', async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await rejectionOf(pool.run(undefined, { name: 'returnsFunction' }));
    expect(error.code).toBe('ERR_OFFTHREAD_UNCLONEABLE');
    expect(error.message).toMatch(/result could not be sent back/);
    expect(await pool.run(1)).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('a full queue rejects at once with ERR_OFFTHREAD_QUEUE_FULL', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, maxQueue: 2 });
    await pool.run(1);
    const running = pool.run(100, { name: 'busy' });
    await new Promise((r) => setTimeout(r, 20));
    const queued = [pool.run(1), pool.run(2)];
    const error = await rejectionOf(pool.run(3));
    expect(error.code).toBe('ERR_OFFTHREAD_QUEUE_FULL');
    expect(error.message).toMatch(/queue is full \(2 tasks waiting\)/);
    await running;
    expect(await Promise.all(queued)).toEqual([2, 3]);
  });

  it('maxQueue counts tasks batched ahead to a thread, not only the main queue', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, maxQueue: 100 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => pool.run(i))); // warm: tiny tasks get batched
    const accepted: Promise<unknown>[] = [];
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      accepted.push(pool.run(i).catch((e) => e.code === 'ERR_OFFTHREAD_QUEUE_FULL' && rejected++));
    }
    await Promise.all(accepted);
    expect(rejected).toBeGreaterThanOrEqual(400 - 101 - 64);
  });

  it('options are validated with errors that name the option', () => {
    expect(() => new Pool({ maxThreads: 0 })).toThrow(
      new RangeError('options.maxThreads must be a positive integer, got 0'),
    );
    expect(() => new Pool({ maxThreads: 1.5 })).toThrow(TypeError);
    expect(() => new Pool({ minThreads: 4, maxThreads: 2 })).toThrow(
      /options.minThreads \(4\) must not be greater than options.maxThreads \(2\)/,
    );
    expect(() => new Pool({ idleTimeout: -1 })).toThrow(RangeError);
    expect(() => new Pool({ maxQueue: -5 })).toThrow(/options.maxQueue/);
    expect(() => new Pool({ filename: './tasks.js' })).toThrow(
      /must be an absolute path or a file URL.*new URL\('\.\/tasks\.js', import\.meta\.url\)/,
    );
    expect(() => new Pool({ filename: '/does/not/exist.js' })).toThrow(/does not exist/);
    expect(() => new Pool({ maxThread: 2 } as never)).toThrow(
      /options.maxThread is not a Pool option/,
    );
    expect(() => new Pool({ execArgv: '--inspect' } as never)).toThrow(
      /options.execArgv must be an array of strings/,
    );
  });

  it('run() options are validated, and the error arrives as a rejection', async () => {
    const pool = createPool();
    expect(await rejectionOf(pool.run(1, { timeout: -1 }))).toBeInstanceOf(RangeError);
    expect((await rejectionOf(pool.run(1, { signal: {} as AbortSignal }))).message).toMatch(
      /options.signal must be an AbortSignal/,
    );
    expect((await rejectionOf(pool.run(1, { name: '' }))).message).toMatch(/options.name must be/);
    const noFile = new Pool({ minThreads: 0 });
    expect((await rejectionOf(noFile.run(1))).message).toMatch(/No task module/);
    await noFile.destroy();
  });

  it('the default filename may be a URL, a file: URL string or an absolute path', async () => {
    for (const filename of [tasks, tasks.href, tasks.pathname]) {
      const pool = createPool({ filename, maxThreads: 1 });
      expect(await pool.run(1)).toBe(2);
    }
  });
});
