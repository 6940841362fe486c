import type { BroadcastFailure } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf, waitFor } from './helpers.js';

const broadcastTasks = fixture('broadcast.mjs');

type Config = { threadId: number; config: unknown; configured: number };

describe('pool.broadcast()', () => {
  it('runs an export once on every live thread, threads still starting included, with one result per thread', async () => {
    const pool = createPool({ filename: broadcastTasks, minThreads: 3, maxThreads: 3 });
    // Right after construction the threads are still starting: they are live, they count.
    const results = await pool.broadcast('v1', { name: 'configure' });
    expect(results).toHaveLength(3);
    const ids = results.map((r) => r.threadId);
    expect(new Set(ids).size).toBe(3);
    for (const r of results)
      expect(r).toEqual({ threadId: r.threadId, status: 'fulfilled', value: r.threadId });
    // Every thread now has it, exactly once.
    const seen = await Promise.all(
      Array.from({ length: 60 }, () => pool.run<Config>(undefined, { name: 'readConfig' })),
    );
    for (const s of seen) {
      expect(ids).toContain(s.threadId);
      expect(s.config).toBe('v1');
      expect(s.configured).toBe(1);
    }
  });

  it('reports a failure on one thread in its own entry; the other threads succeed', async () => {
    const pool = createPool({ filename: broadcastTasks, minThreads: 2, maxThreads: 2 });
    const first = await pool.broadcast(undefined, { name: 'configure' });
    const victim = first[0]?.threadId;
    const results = await pool.broadcast({ victim }, { name: 'failOn' });
    expect(results).toHaveLength(2);
    const failed = results.filter((r) => r.status === 'rejected');
    const fine = results.filter((r) => r.status === 'fulfilled');
    expect(failed.map((r) => r.threadId)).toEqual([victim]);
    expect(((failed[0] as { reason: Error }).reason as Error).message).toBe(
      `thread ${victim} refused`,
    );
    expect(fine).toHaveLength(1);
    // A failed broadcast does not hurt the thread.
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('with includeFutureThreads, a thread started later runs it before any other task; the latest argument wins', async () => {
    const pool = createPool({
      filename: broadcastTasks,
      minThreads: 1,
      maxThreads: 1,
      maxTasksPerThread: 5,
    });
    await pool.broadcast('v1', { name: 'configure', includeFutureThreads: true });
    await pool.broadcast('v2', { name: 'configure', includeFutureThreads: true });
    // A crash replaces the thread; recycling (every 5 tasks) replaces it again and again.
    expect((await rejectionOf(pool.run(undefined, { name: 'exit' }))).code).toBe(
      'ERR_OFFTHREAD_WORKER_EXIT',
    );
    const seen = await Promise.all(
      Array.from({ length: 30 }, () => pool.run<Config>(undefined, { name: 'readConfig' })),
    );
    expect(new Set(seen.map((s) => s.threadId)).size).toBeGreaterThanOrEqual(6);
    for (const s of seen) {
      expect(s.config, `thread ${s.threadId}`).toBe('v2');
      // Only the latest broadcast of the export is kept for new threads.
      expect(s.configured, `thread ${s.threadId}`).toBe(1);
    }
  });

  it('a broadcast that fails on a thread started later is reported by the broadcastFailed event', async () => {
    const pool = createPool({ filename: broadcastTasks, minThreads: 1, maxThreads: 1 });
    const failures: BroadcastFailure[] = [];
    pool.on('broadcastFailed', (f: BroadcastFailure) => failures.push(f));
    const now = await pool.broadcast(undefined, { name: 'refuse', includeFutureThreads: true });
    expect(now.map((r) => r.status)).toEqual(['rejected']);
    await rejectionOf(pool.run(undefined, { name: 'exit' }));
    await pool.run(undefined, { name: 'readConfig' });
    await waitFor(() => failures.length === 1);
    expect(failures[0]?.name).toBe('refuse');
    expect(String((failures[0]?.error as Error | undefined)?.message)).toMatch(/refused/);
    expect(failures[0]?.threadId).not.toBe(now[0]?.threadId);
  });

  it('never runs a broadcast on another thread when its thread dies before starting it', async () => {
    const pool = createPool({ filename: broadcastTasks, minThreads: 2, maxThreads: 2 });
    await pool.broadcast(undefined, { name: 'configure' });
    // Queue an exit, then a broadcast behind it on every thread: one thread dies first.
    const exit = pool.run(undefined, { name: 'exit' }).catch((e) => e);
    await new Promise((resolve) => setImmediate(resolve));
    const results = await pool.broadcast('v3', { name: 'configure' });
    await exit;
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r) => r.status === 'rejected');
    // The exit was sent first to one thread, so the broadcast behind it there never started.
    expect(rejected).toHaveLength(1);
    expect(fulfilled).toHaveLength(1);
    for (const r of rejected)
      expect((r as { reason: { code: string } }).reason.code).toBe('ERR_OFFTHREAD_WORKER_EXIT');
    // Whatever died, no thread ran the broadcast twice.
    const seen = await Promise.all(
      Array.from({ length: 20 }, () => pool.run<Config>(undefined, { name: 'readConfig' })),
    );
    for (const s of seen) expect(s.configured).toBeLessThanOrEqual(2);
  });

  it('rejects bad options naming them, and rejects on a closed pool', async () => {
    const pool = createPool({ filename: broadcastTasks, minThreads: 1, maxThreads: 1 });
    await expect(pool.broadcast(1, { name: '' })).rejects.toThrow(/options\.name must be/);
    await expect(
      pool.broadcast(1, { includeFutureThreads: 'yes' as unknown as boolean }),
    ).rejects.toThrow(/options\.includeFutureThreads must be true or false/);
    await expect(
      pool.broadcast(1, { transferList: [] } as unknown as { name: string }),
    ).rejects.toThrow(/options\.transferList is not a broadcast\(\) option/);
    await expect(pool.broadcast(1, { timeout: -1 })).rejects.toThrow(RangeError);
    await pool.close();
    expect((await rejectionOf(pool.broadcast(1, { name: 'configure' }))).code).toBe(
      'ERR_OFFTHREAD_POOL_CLOSED',
    );
  });
});
