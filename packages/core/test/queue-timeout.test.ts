import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf } from './helpers.js';

describe('queueTimeout', () => {
  it('a task still queued after queueTimeout rejects with QUEUE_TIMEOUT and never runs', async () => {
    const counts = new Int32Array(new SharedArrayBuffer(16));
    const pool = createPool({
      filename: fixture('counted.mjs'),
      minThreads: 1,
      maxThreads: 1,
      workerData: { counts: counts.buffer },
    });
    await pool.run({ i: 3 }, { name: 'tick' });
    const blocker = pool.run({ i: 0, mode: 'hang', ms: 400 }, { name: 'syncTick' });
    const late = rejectionOf(pool.run({ i: 1 }, { name: 'tick', queueTimeout: 50 }));
    const error = await late;
    expect(error.code).toBe('ERR_OFFTHREAD_QUEUE_TIMEOUT');
    expect(error.message).toMatch(/never ran/);
    expect(await blocker).toBe(0);
    expect(await pool.run({ i: 2 }, { name: 'tick' })).toBe(2);
    expect(counts[1]).toBe(0);
  });

  it('a task that starts in time is not affected, and the pool-wide queueTimeout applies by default', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, queueTimeout: 60 });
    // The first task may wait for the thread to start (longer than 60 ms on a loaded machine).
    expect(await pool.run(1, { queueTimeout: Number.POSITIVE_INFINITY })).toBe(2);
    const blocker = pool.run(300, { name: 'busy' });
    const waiting = rejectionOf(pool.run(1));
    const unbounded = pool.run(1, { queueTimeout: Number.POSITIVE_INFINITY });
    expect((await waiting).code).toBe('ERR_OFFTHREAD_QUEUE_TIMEOUT');
    await blocker;
    expect(await unbounded).toBe(2);
  });
});
