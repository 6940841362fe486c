import { describe, expect, it } from 'vitest';
import { createPool, fixture } from './helpers.js';

const counted = fixture('counted.mjs');

/** A pool over counted.mjs and the per-task execution counters it writes. */
function countedPool(size: number, options: Parameters<typeof createPool>[0] = {}) {
  const counts = new Int32Array(new SharedArrayBuffer(size * 4));
  const pool = createPool({
    filename: counted,
    maxQueue: Number.POSITIVE_INFINITY,
    workerData: { counts: counts.buffer },
    ...options,
  });
  return { pool, counts };
}

async function settle(promises: Promise<unknown>[]) {
  return Promise.all(
    promises.map((p) =>
      p.then(
        (value) => ({ value, code: undefined as string | undefined }),
        (error) => ({ value: undefined, code: (error?.code ?? error?.message) as string }),
      ),
    ),
  );
}

describe('a task runs at most once, and a dead thread is blamed exactly', () => {
  it('one process.exit in a burst of 120 warm tiny tasks fails that task only; the others run exactly once', async () => {
    const { pool, counts } = countedPool(200, { minThreads: 2, maxThreads: 2 });
    // Warm the export so the pool batches it ahead (the fast path this guards).
    await Promise.all(
      Array.from({ length: 2000 }, () => pool.run({ i: 199 }, { name: 'syncTick' })),
    );
    let exits = 0;
    pool.on('threadExit', () => exits++);
    const burst = Array.from({ length: 120 }, (_, i) =>
      pool.run({ i, mode: i === 60 ? 'exit' : 'ok' }, { name: 'syncTick' }),
    );
    const outcomes = await settle(burst);
    for (let i = 0; i < 120; i++) {
      if (i === 60) expect(outcomes[i]?.code).toBe('ERR_OFFTHREAD_WORKER_EXIT');
      else expect(outcomes[i], `task ${i}`).toEqual({ value: i, code: undefined });
      expect(counts[i], `executions of task ${i}`).toBe(1);
    }
    expect(exits).toBe(1);
    expect(pool.stats().threadsReplaced).toBe(1);
  });

  it('tasks that finished before a process.exit in the same batch keep their results (flushed on the way out)', async () => {
    const { pool, counts } = countedPool(100, { minThreads: 1, maxThreads: 1 });
    await Promise.all(Array.from({ length: 500 }, () => pool.run({ i: 99 }, { name: 'syncTick' })));
    const burst = Array.from({ length: 40 }, (_, i) =>
      pool.run({ i, mode: i === 20 ? 'exit' : 'ok' }, { name: 'syncTick' }),
    );
    const outcomes = await settle(burst);
    expect(outcomes.filter((o) => o.code !== undefined).map((o) => o.code)).toEqual([
      'ERR_OFFTHREAD_WORKER_EXIT',
    ]);
    expect(outcomes[20]?.code).toBe('ERR_OFFTHREAD_WORKER_EXIT');
    expect([...counts.slice(0, 40)]).toEqual(Array(40).fill(1));
  });

  it('an uncaught error blames the task that was running, and the tasks behind it run once elsewhere', async () => {
    const { pool, counts } = countedPool(100, { minThreads: 1, maxThreads: 1 });
    const outcomes = await settle([
      pool.run({ i: 0 }, { name: 'tick' }),
      pool.run({ i: 1, mode: 'uncaught' }, { name: 'tick' }),
      pool.run({ i: 2 }, { name: 'tick' }),
    ]);
    expect(outcomes.map((o) => o.code ?? o.value)).toEqual([0, 'ERR_OFFTHREAD_WORKER_EXIT', 2]);
    expect([...counts.slice(0, 3)]).toEqual([1, 1, 1]);
  });

  it('with concurrentTasksPerWorker > 1, every task running when the thread dies fails (it may have started), the waiting ones run once', async () => {
    const { pool, counts } = countedPool(100, {
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 4,
    });
    await pool.run({ i: 99 }, { name: 'tick' });
    const outcomes = await settle([
      pool.run({ i: 0, mode: 'slow', ms: 2000 }, { name: 'tick' }),
      pool.run({ i: 1, mode: 'slow', ms: 2000 }, { name: 'tick' }),
      pool.run({ i: 2, mode: 'slow', ms: 2000 }, { name: 'tick' }),
      pool.run({ i: 3, mode: 'uncaught' }, { name: 'tick' }),
      ...Array.from({ length: 6 }, (_, k) => pool.run({ i: 4 + k }, { name: 'tick' })),
    ]);
    expect(outcomes.slice(0, 4).map((o) => o.code)).toEqual(
      Array(4).fill('ERR_OFFTHREAD_WORKER_EXIT'),
    );
    expect(outcomes.slice(4).map((o) => o.value)).toEqual([4, 5, 6, 7, 8, 9]);
    expect([...counts.slice(0, 10)]).toEqual(Array(10).fill(1));
  });

  it('a timeout terminates its thread without losing results of tasks that finished before it, and tasks sent behind it run once', async () => {
    const { pool, counts } = countedPool(200, { minThreads: 1, maxThreads: 1 });
    await Promise.all(
      Array.from({ length: 500 }, () => pool.run({ i: 199 }, { name: 'syncTick' })),
    );
    const burst: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      burst.push(
        i === 50
          ? pool.run({ i, mode: 'hang', ms: 3000 }, { name: 'syncTick', timeout: 100 })
          : pool.run({ i }, { name: 'syncTick' }),
      );
    }
    const outcomes = await settle(burst);
    for (let i = 0; i < 100; i++) {
      if (i === 50) expect(outcomes[i]?.code).toBe('ERR_OFFTHREAD_TIMEOUT');
      else expect(outcomes[i], `task ${i}`).toEqual({ value: i, code: undefined });
      expect(counts[i], `executions of task ${i}`).toBe(1);
    }
  });

  it('out of memory fails the running task with OUT_OF_MEMORY; a finished task whose result died with the thread fails with RESULT_LOST, never re-run', async () => {
    const { pool, counts } = countedPool(100, {
      minThreads: 1,
      maxThreads: 1,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    await Promise.all(Array.from({ length: 500 }, () => pool.run({ i: 99 }, { name: 'syncTick' })));
    const burst = Array.from({ length: 30 }, (_, i) =>
      pool.run({ i, mode: i === 10 ? 'oom' : 'ok' }, { name: 'syncTick' }),
    );
    const outcomes = await settle(burst);
    expect(outcomes[10]?.code).toBe('ERR_OFFTHREAD_OUT_OF_MEMORY');
    for (let i = 0; i < 30; i++) {
      if (i === 10) continue;
      // Before the OOM: the result arrived, or it was lost with the thread (never both, never twice).
      if (i < 10)
        expect([i, 'ERR_OFFTHREAD_RESULT_LOST']).toContain(outcomes[i]?.code ?? outcomes[i]?.value);
      else expect(outcomes[i], `task ${i}`).toEqual({ value: i, code: undefined });
      expect(counts[i], `executions of task ${i}`).toBe(1);
    }
  }, 60_000);
});
