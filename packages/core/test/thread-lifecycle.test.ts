import { execFile } from 'node:child_process';
import { Pool } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf, tasks, waitFor } from './helpers.js';

function runNode(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('threads that fail to start, and pools stopped in any state', () => {
  it('a lazily started thread that Node refuses (bad execArgv) rejects waiting tasks with WORKER_INIT, nothing thrown in the main thread', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const pool = createPool({ minThreads: 0, maxThreads: 1, execArgv: ['--no-such-flag'] });
      const errors = await Promise.all([rejectionOf(pool.run(1)), rejectionOf(pool.run(2))]);
      for (const error of errors) {
        expect(error.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
        expect(error.message).toMatch(/could not start a worker thread/);
      }
      expect(pool.stats().threadStartFailures).toBeGreaterThan(0);
      await pool.destroy();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('a bad execArgv fails at construction when the pool starts threads eagerly', () => {
    expect(
      () => new Pool({ filename: tasks, minThreads: 1, execArgv: ['--no-such-flag'] }),
    ).toThrow(/could not start a worker thread/);
  });

  for (const how of ['destroy', 'close']) {
    it(`${how}() while a thread is still starting and the main thread is busy settles, and the process exits by itself`, async () => {
      const { code, stdout, stderr } = await runNode([
        fixture('destroy-while-starting.mjs').pathname,
        how,
      ]);
      expect(stdout.trim().split('\n'), stderr).toEqual(Array(5).fill('settled'));
      expect(code).toBe(0);
    });
  }

  it('destroy() settles in every state: idle, busy, starting, and twice', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 2 });
    await pool.run(1);
    const busy = rejectionOf(pool.run(2000, { name: 'busy' }));
    const queued = rejectionOf(pool.run(1));
    const first = pool.destroy();
    const second = pool.destroy();
    await Promise.all([first, second]);
    expect((await busy).code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    expect((await queued).code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    expect(pool.stats().threads).toBe(0);
  });

  it('a thread that can never start is retried with backoff, not in a loop; stats() and an event say so', async () => {
    const pool = createPool({
      minThreads: 1,
      maxThreads: 1,
      env: { ...process.env, NODE_OPTIONS: `--require ${fixture('fails-to-load.mjs').pathname}` },
    });
    const failures: Array<{ attempts: number; retryInMs: number; error: { code: string } }> = [];
    pool.on('threadStartFailed', (failure) => failures.push(failure));
    let exits = 0;
    pool.on('threadExit', () => exits++);
    const error = await rejectionOf(pool.run(1));
    expect(error.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // Without backoff this was about 40 starts a second; with it: 100, 200, 400, 800 ms apart.
    expect(exits).toBeLessThanOrEqual(8);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]?.error.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
    expect(failures[1]?.retryInMs).toBeGreaterThan(failures[0]?.retryInMs ?? 0);
    const stats = pool.stats();
    expect(stats.threadStartFailures).toBeGreaterThanOrEqual(2);
    expect(stats.lastThreadStartError).toMatch(/could not start a worker thread/);
    await pool.destroy();
  });

  it('close() settles while threads keep failing to start, and no start is attempted after it', async () => {
    const pool = createPool({
      minThreads: 1,
      maxThreads: 1,
      env: { ...process.env, NODE_OPTIONS: `--require ${fixture('fails-to-load.mjs').pathname}` },
    });
    let failures = 0;
    pool.on('threadStartFailed', () => failures++);
    await waitFor(() => failures >= 1);
    await pool.close();
    const after = failures;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(failures).toBe(after);
    expect(pool.stats().threads).toBe(0);
  });

  it('the start-failure count resets once a thread starts', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1 });
    await pool.run(1);
    expect(pool.stats().threadStartFailures).toBe(0);
    await waitFor(() => pool.stats().threads === 1);
  });
});
