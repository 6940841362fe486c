import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf, waitFor } from './helpers.js';

describe('aborting', () => {
  it('a queued task is removed from the queue and never runs', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1 });
    await pool.run(1);
    const blocker = pool.run(100, { name: 'busy' });
    const controller = new AbortController();
    const queued = pool.run(1, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 10));
    expect(pool.stats().queued).toBe(1);
    controller.abort(new Error('user went away'));
    const error = await rejectionOf(queued);
    expect(error.code).toBe('ERR_OFFTHREAD_ABORTED');
    expect(error.cause.message).toBe('user went away');
    expect(pool.stats().queued).toBe(0);
    await blocker;
    expect(pool.stats().completed).toBe(2);
  });

  it('a running task gets its signal and can stop cooperatively, keeping its thread', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, abortGracePeriod: 5_000 });
    const before = await pool.run(undefined, { name: 'whoAmI' });
    const controller = new AbortController();
    const running = pool.run(10_000, { name: 'cooperative', signal: controller.signal });
    await waitFor(() => pool.stats().running === 1);
    await new Promise((r) => setTimeout(r, 30));
    controller.abort();
    expect((await rejectionOf(running)).code).toBe('ERR_OFFTHREAD_ABORTED');
    await waitFor(() => pool.stats().running === 0);
    expect(await pool.run(undefined, { name: 'whoAmI' })).toBe(before);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('a running task that ignores its signal is stopped after the grace period', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, abortGracePeriod: 100 });
    const before = await pool.run(undefined, { name: 'whoAmI' });
    const controller = new AbortController();
    const running = pool.run(undefined, {
      filename: fixture('crash.mjs'),
      name: 'spin',
      signal: controller.signal,
    });
    await waitFor(() => pool.stats().running === 1);
    controller.abort();
    expect((await rejectionOf(running)).code).toBe('ERR_OFFTHREAD_ABORTED');
    const after = await pool.run(undefined, { name: 'whoAmI' });
    expect(after).not.toBe(before);
  });

  it('an already aborted signal rejects at once', async () => {
    const pool = createPool();
    const error = await rejectionOf(pool.run(1, { signal: AbortSignal.abort() }));
    expect(error.code).toBe('ERR_OFFTHREAD_ABORTED');
    expect(pool.stats().completed).toBe(0);
  });
});
