import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf } from './helpers.js';

const hostile = fixture('hostile-errors.mjs');
const rejection = (promise: Promise<unknown>) => rejectionOf(promise);

describe('hostile values returned by tasks', () => {
  it('a returned Proxy whose every trap throws rejects (uncloneable, or the trap error); the thread survives', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(undefined, { name: 'returnHostileProxy' }));
    expect(error.code === 'ERR_OFFTHREAD_UNCLONEABLE' || error.message === 'trap').toBe(true);
    expect(await pool.run(6, { name: 'ok' })).toBe(6);
    expect(pool.stats().threadsReplaced).toBe(0);
  });
});
