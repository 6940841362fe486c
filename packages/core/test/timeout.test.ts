import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf } from './helpers.js';

describe('timeouts', () => {
  it('stop a task that runs too long: the thread is terminated and replaced', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1 });
    const before = await pool.run(undefined, { name: 'whoAmI' });
    const error = await rejectionOf(
      pool.run(undefined, { filename: fixture('crash.mjs'), name: 'spin', timeout: 100 }),
    );
    expect(error.code).toBe('ERR_OFFTHREAD_TIMEOUT');
    expect(error.timeout).toBe(100);
    const after = await pool.run(undefined, { name: 'whoAmI' });
    expect(after).not.toBe(before);
    expect(pool.stats().threads).toBe(1);
  });

  it('count from when the task starts, not while it is queued', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1 });
    await pool.run(1);
    const blocker = pool.run(300, { name: 'busy' });
    // Queued for ~300 ms behind the blocker, then runs for ~50 ms: well within its 250 ms.
    const queued = pool.run(50, { name: 'busy', timeout: 250 });
    await blocker;
    await expect(queued).resolves.toBeTypeOf('number');
  });

  it('apply the pool-wide taskTimeout, and a per-call timeout overrides it', async () => {
    const pool = createPool({ maxThreads: 1, taskTimeout: 50 });
    expect((await rejectionOf(pool.run(500, { name: 'busy' }))).code).toBe('ERR_OFFTHREAD_TIMEOUT');
    await expect(pool.run(100, { name: 'busy', timeout: 5_000 })).resolves.toBeTypeOf('number');
  });

  it("abort the task's signal when its timeout passes, and keep a thread whose task stops by itself within abortGracePeriod", async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, abortGracePeriod: 5_000 });
    const before = await pool.run(undefined, { name: 'whoAmI' });
    const error = await rejectionOf(pool.run(10_000, { name: 'cooperative', timeout: 50 }));
    expect(error.code).toBe('ERR_OFFTHREAD_TIMEOUT');
    // The cooperative task saw its signal and returned: same thread, nothing replaced. Had the
    // signal not fired, the next task would wait 10 s behind it (and this test time out).
    expect(await pool.run(undefined, { name: 'whoAmI' })).toBe(before);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('terminate the thread of a task that ignores its signal, once abortGracePeriod has passed', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, abortGracePeriod: 100 });
    const before = await pool.run(undefined, { name: 'whoAmI' });
    const error = await rejectionOf(
      pool.run(undefined, { filename: fixture('crash.mjs'), name: 'spin', timeout: 50 }),
    );
    expect(error.code).toBe('ERR_OFFTHREAD_TIMEOUT');
    expect(await pool.run(undefined, { name: 'whoAmI' })).not.toBe(before);
    expect(pool.stats().threadsReplaced).toBe(1);
  });
});
