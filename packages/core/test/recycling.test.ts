import type { ThreadRecycled } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, fixture } from './helpers.js';

const recycleTasks = fixture('recycle.mjs');

/** A pool over recycle.mjs, the per-task execution counters and a count of onThreadClose runs. */
function recyclingPool(size: number, options: Parameters<typeof createPool>[0] = {}) {
  const counts = new Int32Array(new SharedArrayBuffer(size * 4));
  const closes = new Int32Array(new SharedArrayBuffer(4));
  const pool = createPool({
    filename: recycleTasks,
    maxQueue: Number.POSITIVE_INFINITY,
    workerData: { counts: counts.buffer, closes: closes.buffer },
    ...options,
  });
  const recycled: ThreadRecycled[] = [];
  pool.on('threadRecycled', (event: ThreadRecycled) => recycled.push(event));
  // Threads alive at once, from the pool's own events.
  let alive = 0;
  let mostAlive = 0;
  pool.on('threadStart', () => {
    alive++;
    mostAlive = Math.max(mostAlive, alive);
  });
  pool.on('threadExit', () => alive--);
  return { pool, counts, closes, recycled, mostAlive: () => mostAlive };
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

describe('recycling threads (maxTasksPerThread, maxThreadHeapMb)', () => {
  it('a thread is given at most maxTasksPerThread tasks; a burst of warm tiny tasks all run exactly once', async () => {
    const n = 600;
    const { pool, counts, closes, recycled, mostAlive } = recyclingPool(n + 1, {
      minThreads: 2,
      maxThreads: 2,
      maxTasksPerThread: 25,
    });
    // Warm the export so the pool batches tasks ahead: the cap must hold on the fast path too.
    await Promise.all(Array.from({ length: 40 }, () => pool.run({ i: n }, { name: 'whoami' })));
    const burst = Array.from({ length: n }, (_, i) => pool.run({ i }, { name: 'whoami' }));
    const outcomes = await settle(burst);
    const perThread = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const { value, code } = outcomes[i] as { value: unknown; code: string | undefined };
      expect(code, `task ${i}`).toBeUndefined();
      perThread.set(value as number, (perThread.get(value as number) ?? 0) + 1);
      expect(counts[i], `executions of task ${i}`).toBe(1);
    }
    for (const [threadId, tasks] of perThread)
      expect(tasks, `tasks run by thread ${threadId}`).toBeLessThanOrEqual(25);
    // 640 tasks at 25 per thread: at least 24 threads were used up.
    expect(recycled.length).toBeGreaterThanOrEqual(24);
    for (const event of recycled) {
      expect(event.reason).toBe('maxTasksPerThread');
      expect(event.tasks).toBe(25);
    }
    expect(pool.stats().threadsRecycled).toBe(recycled.length);
    expect(pool.stats().threadsReplaced).toBe(0);
    expect(pool.stats().failed).toBe(0);
    expect(mostAlive()).toBeLessThanOrEqual(2);
    // Recycled threads were closed gracefully: their onThreadClose hooks ran.
    await pool.close();
    expect(closes[0]).toBeGreaterThanOrEqual(recycled.length);
  });

  it('async tasks running when the limit is reached finish in the retiring thread', async () => {
    const n = 60;
    const { pool, counts, recycled } = recyclingPool(n, {
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 4,
      maxTasksPerThread: 7,
    });
    const outcomes = await settle(
      Array.from({ length: n }, (_, i) => pool.run({ i, ms: 5 }, { name: 'whoamiLater' })),
    );
    expect(outcomes.every((o) => o.code === undefined)).toBe(true);
    for (let i = 0; i < n; i++) expect(counts[i], `executions of task ${i}`).toBe(1);
    expect(recycled.length).toBe(Math.floor(n / 7));
  });

  it('crashes and throws in threads being recycled keep the at-most-once contract', async () => {
    const n = 300;
    const { pool, counts } = recyclingPool(n, {
      minThreads: 2,
      maxThreads: 2,
      maxTasksPerThread: 9,
    });
    const mode = (i: number) => (i % 37 === 5 ? 'exit' : i % 11 === 3 ? 'throw' : 'ok');
    const outcomes = await settle(
      Array.from({ length: n }, (_, i) => pool.run({ i, mode: mode(i) }, { name: 'whoami' })),
    );
    for (let i = 0; i < n; i++) {
      const o = outcomes[i] as { value: unknown; code: string | undefined };
      if (mode(i) === 'exit') expect(o.code, `task ${i}`).toBe('ERR_OFFTHREAD_WORKER_EXIT');
      else if (mode(i) === 'throw') expect(o.code, `task ${i}`).toBe(`task ${i} threw`);
      else expect(o.code, `task ${i}`).toBeUndefined();
      expect(counts[i], `executions of task ${i}`).toBe(1);
    }
  });

  it('a thread whose heap passes maxThreadHeapMb is recycled before it runs out of memory', async () => {
    const n = 30;
    const { pool, counts, recycled } = recyclingPool(n, {
      minThreads: 1,
      maxThreads: 1,
      maxThreadHeapMb: 48,
      // Without recycling, 30 tasks keeping 8 MB each would exceed this and fail OUT_OF_MEMORY.
      resourceLimits: { maxOldGenerationSizeMb: 128 },
    });
    const outcomes = await settle(
      Array.from({ length: n }, (_, i) => pool.run({ i, mb: 8 }, { name: 'leak' })),
    );
    expect(outcomes.map((o) => o.code)).toEqual(Array(n).fill(undefined));
    for (let i = 0; i < n; i++) expect(counts[i], `executions of task ${i}`).toBe(1);
    expect(recycled.length).toBeGreaterThanOrEqual(3);
    for (const event of recycled) {
      expect(event.reason).toBe('maxThreadHeapMb');
      expect(event.heapUsedMb).toBeGreaterThanOrEqual(48);
    }
    expect(pool.stats().threadsRecycled).toBe(recycled.length);
    // Each recycled thread ran tasks; the last replacement may not have had any yet.
    expect(new Set(outcomes.map((o) => o.value)).size).toBeGreaterThanOrEqual(recycled.length);
  });

  it('without the options nothing is recycled', async () => {
    const { pool, recycled } = recyclingPool(200, { minThreads: 1, maxThreads: 1 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run({ i }, { name: 'whoami' })));
    expect(recycled).toEqual([]);
    expect(pool.stats().threadsRecycled).toBe(0);
  });

  it('rejects bad values, naming the option', () => {
    for (const bad of [0, -1, 1.5, '10', Number.NaN]) {
      expect(() => createPool({ maxTasksPerThread: bad as number })).toThrow(
        /options\.maxTasksPerThread must be a positive integer/,
      );
    }
    for (const bad of [0, -5, Number.NaN, '64', null]) {
      expect(() => createPool({ maxThreadHeapMb: bad as number })).toThrow(
        /options\.maxThreadHeapMb must be a positive number of MB/,
      );
    }
    expect(() =>
      createPool({
        maxTasksPerThread: Number.POSITIVE_INFINITY,
        maxThreadHeapMb: Number.POSITIVE_INFINITY,
      }),
    ).not.toThrow();
  });
});
