import { OffThreadError, OffThreadErrorCode, type PoolStream } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, fixture, waitFor } from './helpers.js';

const streamTasks = fixture('stream.mjs');
const PRODUCED = 0;
const FINALLY = 1;

/** Int32 slots the generator writes in its thread (see fixtures/stream.mjs). */
function sharedFlags(slots = 2) {
  const shared = new SharedArrayBuffer(slots * 4);
  const flags = new Int32Array(shared);
  return {
    shared,
    produced: () => Atomics.load(flags, PRODUCED),
    finallyRan: () => Atomics.load(flags, FINALLY) === 1,
    at: (i: number) => Atomics.load(flags, i),
  };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const value of stream) values.push(value);
  return values;
}

/** The error next() rejects with after the values before it. */
async function valuesThenError(stream: PoolStream): Promise<{ values: unknown[]; error: any }> {
  const values: unknown[] = [];
  try {
    for await (const value of stream) values.push(value);
  } catch (error) {
    return { values, error };
  }
  throw new Error(`expected an error after ${JSON.stringify(values)}`);
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('pool.stream(): values of an async generator task', () => {
  it('yields every value in order; the final result carries the return value', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    expect(await collect(pool.stream({ count: 50 }, { name: 'count' }))).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    const stream = pool.stream({ count: 2 }, { name: 'count' });
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    expect(await stream.next()).toEqual({ done: true, value: 'done' });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('streams a plain function that returns an async iterable, and an async function resolving to one', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    expect(await collect(pool.stream({ n: 3 }, { name: 'iterable' }))).toEqual([
      'item 0',
      'item 1',
      'item 2',
    ]);
    expect(await collect(pool.stream({ n: 3 }, { name: 'later' }))).toEqual([0, 1, 2]);
  });

  it('currentTask() works in the generator body across awaits', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    expect(await collect(pool.stream(undefined, { name: 'whoami' }))).toEqual(['whoami', 'whoami']);
  });

  it('backpressure: the generator runs at most `window` values ahead of a slow consumer', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    for (const window of [1, 4, 8]) {
      const flags = sharedFlags();
      const stream = pool.stream({ count: 1000, shared: flags.shared }, { name: 'count', window });
      let consumed = 0;
      let maxAhead = 0;
      for await (const _ of stream) {
        consumed++;
        // Give the thread every chance to run ahead while this consumer is slow.
        if (consumed % 100 === 1) await tick(30);
        maxAhead = Math.max(maxAhead, flags.produced() - consumed);
        if (consumed === 300) break;
      }
      expect(maxAhead).toBeLessThanOrEqual(window);
      expect(flags.produced()).toBeLessThanOrEqual(300 + window);
    }
  });

  it('breaking out of for-await stops the generator in its thread: its finally runs', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const flags = sharedFlags();
    for await (const value of pool.stream({ shared: flags.shared }, { name: 'endless' })) {
      if (value === 3) break;
    }
    // return() resolves once the thread ended the task: finally has run by now.
    expect(flags.finallyRan()).toBe(true);
    expect(flags.produced()).toBeLessThan(3 + 8 + 2);
    // The slot is free again.
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('abort of a running stream rejects next() with ABORTED and runs the finally', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const flags = sharedFlags();
    const controller = new AbortController();
    const stream = pool.stream(
      { shared: flags.shared },
      { name: 'patient', signal: controller.signal },
    );
    expect((await stream.next()).value).toBe(0);
    controller.abort(new Error('enough'));
    const { error } = await valuesThenError(stream);
    expect(error).toBeInstanceOf(OffThreadError);
    expect(error.code).toBe(OffThreadErrorCode.ABORTED);
    expect(error.cause.message).toBe('enough');
    await waitFor(() => flags.finallyRan());
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('abort of a waiting stream removes it from the queue: it never runs', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const busy = sharedFlags();
    const first = pool.stream({ shared: busy.shared, delay: 5 }, { name: 'endless' });
    await first.next();
    const flags = sharedFlags();
    const controller = new AbortController();
    const waiting = pool.stream(
      { count: 3, shared: flags.shared },
      { name: 'count', signal: controller.signal },
    );
    controller.abort();
    const { values, error } = await valuesThenError(waiting);
    expect(values).toEqual([]);
    expect(error.code).toBe(OffThreadErrorCode.ABORTED);
    await first.return();
    expect(busy.finallyRan()).toBe(true);
    await pool.run(1, { name: 'add1' });
    expect(flags.produced()).toBe(0);
  });

  it('timeout stops the stream: next() rejects with TIMEOUT, the finally runs', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const flags = sharedFlags();
    const stream = pool.stream(
      { shared: flags.shared, delay: 10 },
      { name: 'endless', timeout: 200 },
    );
    const { values, error } = await valuesThenError(stream);
    expect(values.length).toBeGreaterThan(0);
    expect(error.code).toBe(OffThreadErrorCode.TIMEOUT);
    await waitFor(() => flags.finallyRan());
  });

  it('a generator that does not stop within abortGracePeriod has its thread terminated; return() still resolves', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1, abortGracePeriod: 100 });
    const exits: unknown[] = [];
    pool.on('threadExit', (event) => exits.push(event));
    const flags = sharedFlags();
    const stream = pool.stream({ shared: flags.shared, spinMs: 5000 }, { name: 'stuck' });
    expect((await stream.next()).value).toBe('first');
    // The thread is now spinning in the generator and cannot hear the close.
    await tick(50);
    expect(await stream.return()).toEqual({ done: true, value: undefined });
    expect(flags.finallyRan()).toBe(false);
    expect(exits).toHaveLength(1);
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
  });

  it('an error thrown mid-stream reaches the caller intact, after the values before it', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const { values, error } = await valuesThenError(
      pool.stream({ before: 3 }, { name: 'failing' }),
    );
    expect(values).toEqual([0, 1, 2]);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('QuotaError');
    expect(error.code).toBe('E_QUOTA');
    expect(error.quota).toBe(3);
    expect(error.message).toBe('quota exceeded after 3');
  });

  it('a thread that exits mid-stream rejects next() with WORKER_EXIT; the stream is not re-run and the next task works', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const { values, error } = await valuesThenError(pool.stream(undefined, { name: 'exits' }));
    expect(values).toEqual([1, 2]);
    expect(error.code).toBe(OffThreadErrorCode.WORKER_EXIT);
    expect(error.exitCode).toBe(7);
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(1);
  });

  it('many concurrent streams on one thread interleave with run() tasks', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1, concurrentTasksPerWorker: 4 });
    const streams = Array.from({ length: 6 }, (_, i) =>
      collect(pool.stream({ tag: `s${i}`, n: 5, delay: 2 }, { name: 'tagged', window: 2 })),
    );
    const runs = Array.from({ length: 20 }, (_, i) => pool.run(i, { name: 'add1' }));
    const [streamed, ran] = await Promise.all([Promise.all(streams), Promise.all(runs)]);
    expect(streamed).toEqual(
      Array.from({ length: 6 }, (_, i) => Array.from({ length: 5 }, (_, j) => `s${i}:${j}`)),
    );
    expect(ran).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(pool.threadCount).toBe(1);
  });

  it('an uncloneable yielded value fails the stream with UNCLONEABLE after the values before it; the generator finally runs', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const flags = sharedFlags();
    const { values, error } = await valuesThenError(
      pool.stream({ shared: flags.shared }, { name: 'uncloneable' }),
    );
    expect(values).toEqual(['fine']);
    expect(error.code).toBe(OffThreadErrorCode.UNCLONEABLE);
    expect(error.message).toMatch(/yielded could not be sent/);
    expect(flags.finallyRan()).toBe(true);
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
  });

  it('a yielded Proxy whose traps throw fails the stream with UNCLONEABLE, not the thread', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const { values, error } = await valuesThenError(pool.stream(undefined, { name: 'hostile' }));
    expect(values).toEqual(['before']);
    expect(error.code).toBe(OffThreadErrorCode.UNCLONEABLE);
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('break still resolves when the generator finally throws; the thread lives', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const flags = sharedFlags();
    for await (const value of pool.stream({ shared: flags.shared }, { name: 'finallyThrows' })) {
      if (value === 2) break;
    }
    expect(flags.finallyRan()).toBe(true);
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('transfer() of a yielded value moves its buffer instead of copying it', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const flags = sharedFlags(3);
    const values = await collect<Uint8Array>(
      pool.stream({ n: 3, size: 1024, shared: flags.shared }, { name: 'buffers' }),
    );
    expect(values.map((v) => [v.byteLength, v[0]])).toEqual([
      [1024, 0],
      [1024, 1],
      [1024, 2],
    ]);
    // Detached in the thread once sent.
    expect([flags.at(0), flags.at(1), flags.at(2)]).toEqual([0, 0, 0]);
  });

  it('stream() of a task that returns no async iterable fails with NOT_ITERABLE', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const { values, error } = await valuesThenError(pool.stream(undefined, { name: 'plain' }));
    expect(values).toEqual([]);
    expect(error.code).toBe(OffThreadErrorCode.NOT_ITERABLE);
    expect(error.message).toMatch(/async generator/);
    expect(error.message).toMatch(/pool\.run\(\)/);
  });

  it('run() of an async generator export fails with a clear error pointing to pool.stream()', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const error = await pool.run({ count: 3 }, { name: 'count' }).catch((e) => e);
    expect(error.code).toBe(OffThreadErrorCode.UNCLONEABLE);
    expect(error.message).toMatch(/pool\.stream\(\)/);
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
  });

  it('bad options come out of the first next(): a window out of range, an unknown option', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const a = await valuesThenError(pool.stream(undefined, { name: 'count', window: 0 }));
    expect(a.error).toBeInstanceOf(RangeError);
    expect(a.error.message).toMatch(/options\.window must be an integer from 1 to 1024/);
    const b = await valuesThenError(pool.stream(undefined, { nmae: 'count' } as never));
    expect(b.error).toBeInstanceOf(TypeError);
    expect(b.error.message).toMatch(/options\.nmae/);
  });

  it('queueTimeout drops a stream that never started', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const busy = sharedFlags();
    const first = pool.stream({ shared: busy.shared, delay: 5 }, { name: 'endless' });
    await first.next();
    const { error } = await valuesThenError(
      pool.stream({ count: 1 }, { name: 'count', queueTimeout: 50 }),
    );
    expect(error.code).toBe(OffThreadErrorCode.QUEUE_TIMEOUT);
    await first.return();
  });

  it('takes filename and priority like run(): a higher-priority stream queued later starts first', async () => {
    // The pool's default module is tasks.mjs: the streams name their own.
    const pool = createPool({ maxThreads: 1 });
    const busy = sharedFlags();
    const first = pool.stream(
      { shared: busy.shared, delay: 5 },
      { filename: streamTasks, name: 'endless' },
    );
    await first.next();
    const counter = sharedFlags();
    const low = collect(
      pool.stream({ shared: counter.shared }, { filename: streamTasks, name: 'order' }),
    );
    const high = collect(
      pool.stream(
        { shared: counter.shared },
        { filename: streamTasks, name: 'order', priority: 5 },
      ),
    );
    await first.return();
    expect(await Promise.all([high, low])).toEqual([[0], [1]]);
  });

  it('a stream task can report progress to onProgress too', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const reports: unknown[] = [];
    const values = await collect(
      pool.stream({ n: 4 }, { name: 'reporting', onProgress: (value) => reports.push(value) }),
    );
    expect(values).toEqual([0, 1, 2, 3]);
    expect(reports).toEqual([{ step: 0 }, { step: 1 }, { step: 2 }, { step: 3 }]);
  });

  it('closing a stream that has not started yet drops it: it never runs', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const busy = sharedFlags();
    const first = pool.stream({ shared: busy.shared, delay: 5 }, { name: 'endless' });
    await first.next();
    const flags = sharedFlags();
    const second = pool.stream({ count: 3, shared: flags.shared }, { name: 'count' });
    expect(await second.return()).toEqual({ done: true, value: undefined });
    await first.return();
    await pool.run(1, { name: 'add1' });
    expect(flags.produced()).toBe(0);
  });

  it("streams over runtime: 'process' too: values, the error after them, break and abort", async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1, runtime: 'process' });
    expect(await collect(pool.stream({ count: 20 }, { name: 'count', window: 4 }))).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    const failed = await valuesThenError(pool.stream({ before: 2 }, { name: 'failing' }));
    expect(failed.values).toEqual([0, 1]);
    expect(failed.error.name).toBe('QuotaError');
    for await (const value of pool.stream({ tag: 'x', n: 1000, delay: 1 }, { name: 'tagged' })) {
      if (value === 'x:3') break;
    }
    const controller = new AbortController();
    const aborted = pool.stream(
      { tag: 'y', n: 1000, delay: 5 },
      { name: 'tagged', signal: controller.signal },
    );
    await aborted.next();
    controller.abort();
    expect((await valuesThenError(aborted)).error.code).toBe(OffThreadErrorCode.ABORTED);
    expect(await pool.run(1, { name: 'add1' })).toBe(2);
  });

  it('destroy() rejects a pending next() with POOL_CLOSED', async () => {
    const pool = createPool({ filename: streamTasks, maxThreads: 1 });
    const flags = sharedFlags();
    const stream = pool.stream({ shared: flags.shared, delay: 1000 }, { name: 'endless' });
    const pending = stream.next();
    await tick(50);
    void pool.destroy();
    await expect(pending).rejects.toMatchObject({ code: OffThreadErrorCode.POOL_CLOSED });
  });
});
