import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf } from './helpers.js';

const crash = fixture('crash.mjs');

describe('a worker that dies', () => {
  it('process.exit rejects only its task with ERR_OFFTHREAD_WORKER_EXIT, and is replaced', async () => {
    const pool = createPool({ minThreads: 2, maxThreads: 2 });
    const slow = pool.run(200, { name: 'sleep' });
    const error = await rejectionOf(pool.run(7, { filename: crash, name: 'exit' }));
    expect(error.code).toBe('ERR_OFFTHREAD_WORKER_EXIT');
    expect(error.exitCode).toBe(7);
    expect(error.message).toMatch(/exited with code 7/);
    expect(await slow).toBe(200); // the other thread's task is untouched
    expect(await pool.run(1)).toBe(2);
    expect(pool.stats().threads).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(1);
  });

  it('an uncaught exception in a timer rejects with the exception as cause', async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await rejectionOf(pool.run('kaboom', { filename: crash, name: 'throwInTimer' }));
    expect(error.code).toBe('ERR_OFFTHREAD_WORKER_EXIT');
    expect(error.message).toMatch(/uncaught Error: kaboom/);
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.cause.message).toBe('kaboom');
    expect(await pool.run(1)).toBe(2);
  });

  it('running out of memory under resourceLimits rejects with ERR_OFFTHREAD_OUT_OF_MEMORY', async () => {
    const pool = createPool({
      maxThreads: 1,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    const error = await rejectionOf(pool.run(undefined, { filename: crash, name: 'leak' }));
    expect(error.code).toBe('ERR_OFFTHREAD_OUT_OF_MEMORY');
    expect(error.message).toMatch(/maxOldGenerationSizeMb/);
    expect(await pool.run(1)).toBe(2);
  }, 60_000);

  it('tasks sent ahead to a crashing thread are run elsewhere, not failed', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, maxQueue: Number.POSITIVE_INFINITY });
    // Warm up so the pool batches tiny tasks ahead of the crashing one.
    await Promise.all(Array.from({ length: 2000 }, (_, i) => pool.run(i)));
    const crashing = pool.run(1, { filename: crash, name: 'exit' });
    const after = Array.from({ length: 500 }, (_, i) => pool.run(i));
    expect((await rejectionOf(crashing)).code).toBe('ERR_OFFTHREAD_WORKER_EXIT');
    const results = await Promise.all(after);
    expect(results).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  });

  it('a module that throws while loading rejects with ERR_OFFTHREAD_WORKER_INIT and the original error', async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await rejectionOf(pool.run(1, { filename: fixture('fails-to-load.mjs') }));
    expect(error.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
    expect(error.message).toMatch(/fails-to-load\.mjs failed to load/);
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(error.cause.message).toBe('this module is broken on purpose');
    // The pool keeps working for other modules, on the same thread.
    expect(await pool.run(1)).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('a module that exits while loading fails its task, not the pool', async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await rejectionOf(pool.run(1, { filename: fixture('exits-on-load.mjs') }));
    expect(error.code).toBe('ERR_OFFTHREAD_WORKER_EXIT');
    expect(await pool.run(1)).toBe(2);
  });

  it('a thread that cannot start rejects queued tasks with ERR_OFFTHREAD_WORKER_INIT instead of retrying forever', async () => {
    const pool = createPool({
      minThreads: 0,
      maxThreads: 1,
      env: { ...process.env, NODE_OPTIONS: `--require ${fixture('fails-to-load.mjs').pathname}` },
    });
    const error = await rejectionOf(pool.run(1));
    expect(error.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
    expect(error.message).toMatch(/could not start a worker thread/);
  });

  it('a task file that does not exist is reported before any thread is used', async () => {
    const pool = createPool();
    const error = await rejectionOf(pool.run(1, { filename: '/nonexistent/tasks.mjs' }));
    expect(error.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
    expect(error.message).toMatch(/does not exist/);
  });
});
