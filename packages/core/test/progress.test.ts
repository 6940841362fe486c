import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf } from './helpers.js';

const progressTasks = fixture('progress.mjs');

describe('progress: currentTask().progress(value) -> run(arg, { onProgress })', () => {
  it('delivers every report, in order, before the result', async () => {
    const pool = createPool({ filename: progressTasks, minThreads: 1, maxThreads: 1 });
    const events: unknown[] = [];
    const result = await pool.run(5, {
      name: 'steps',
      onProgress: (value) => events.push(value),
    });
    events.push(result);
    expect(events).toEqual([
      { step: 0 },
      { step: 1 },
      { step: 2 },
      { step: 3 },
      { step: 4 },
      'done',
    ]);
  });

  it('reports across awaits; reports made after the task settled are dropped', async () => {
    const pool = createPool({ filename: progressTasks, minThreads: 1, maxThreads: 1 });
    const events: unknown[] = [];
    const result = await pool.run(4, { name: 'lingering', onProgress: (v) => events.push(v) });
    expect(result).toBe('settled');
    // Give the late reports time to be (not) delivered: a later task on the same thread runs after them.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pool.run(1, { name: 'steps' });
    expect(events).toEqual([0, 1, 2, 3]);
  });

  it('a report the thread makes after its timeout rejected the caller is not delivered', async () => {
    const pool = createPool({ filename: progressTasks, minThreads: 1, maxThreads: 1 });
    const events: unknown[] = [];
    const error = await rejectionOf(
      pool.run(undefined, {
        name: 'reportsAfterTimeout',
        timeout: 100,
        onProgress: (v) => events.push(v),
      }),
    );
    expect(error.code).toBe('ERR_OFFTHREAD_TIMEOUT');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events).toEqual(['before']);
  });

  it('sends nothing when the caller gives no onProgress', async () => {
    const pool = createPool({ filename: progressTasks, minThreads: 1, maxThreads: 1 });
    expect(await pool.run(100, { name: 'postsWhileReporting' })).toBe(0);
    const heard: unknown[] = [];
    expect(
      await pool.run(100, { name: 'postsWhileReporting', onProgress: (v) => heard.push(v) }),
    ).toBe(100);
    expect(heard).toHaveLength(100);
  });

  it('works through pool.proxy().withOptions()', async () => {
    const pool = createPool({ filename: progressTasks, minThreads: 1, maxThreads: 1 });
    const tasks = pool.proxy<typeof import('./fixtures/progress.mjs')>();
    const events: unknown[] = [];
    expect(await tasks.steps.withOptions({ onProgress: (v) => events.push(v) })(2)).toBe('done');
    expect(events).toEqual([{ step: 0 }, { step: 1 }]);
  });

  it('an uncloneable report throws DataCloneError in the task; a throwing onProgress does not break the pool', async () => {
    const pool = createPool({ filename: progressTasks, minThreads: 1, maxThreads: 1 });
    expect(await pool.run(undefined, { name: 'uncloneable', onProgress: () => {} })).toBe(
      'DataCloneError',
    );
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const result = await pool.run(3, {
        name: 'steps',
        onProgress: () => {
          throw new Error('listener bug');
        },
      });
      expect(result).toBe('done');
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((m) => m.includes('listener bug'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('rejects an onProgress that is not a function, naming the option', async () => {
    const pool = createPool({ filename: progressTasks, minThreads: 1, maxThreads: 1 });
    await expect(
      pool.run(1, { name: 'steps', onProgress: 'log' as unknown as () => void }),
    ).rejects.toThrow(/options\.onProgress must be a function/);
  });
});
