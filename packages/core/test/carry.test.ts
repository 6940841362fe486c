// Chosen AsyncLocalStorage values into the task (issue 14 item 4): the pool option `carry` on
// the caller's side, `currentTask().carried` and `restoreCarry()` in the thread
// (test/fixtures/carry.mjs).
import { AsyncLocalStorage } from 'node:async_hooks';
import { transfer } from '@offthread/core';
import { restoreCarry } from '@offthread/core/worker';
import { describe, expect, it } from 'vitest';
import { RunFlag } from '../src/protocol.js';
import { recordRuns } from './context-helpers.js';
import { createPool, fixture, rejectionOf } from './helpers.js';

const carryTasks = fixture('carry.mjs');
const requestId = new AsyncLocalStorage<string>();
const user = new AsyncLocalStorage<{ id: number; roles: string[] }>();

function carryPool(options: Parameters<typeof createPool>[0] = {}) {
  return createPool({
    filename: carryTasks,
    minThreads: 1,
    maxThreads: 1,
    carry: { requestId, user },
    ...options,
  });
}

describe('carry: AsyncLocalStorage values set around run() are visible in the task', () => {
  it('through the thread storage registered with restoreCarry(), before and after an await, and through currentTask().carried', async () => {
    const pool = carryPool();
    const seen = await requestId.run('req-1', () =>
      user.run({ id: 7, roles: ['admin'] }, () => pool.run(5, { name: 'seen' })),
    );
    const expected = { store: 'req-1', user: { id: 7, roles: ['admin'] } };
    expect(seen.before).toEqual(expected);
    expect(seen.after).toEqual(expected);
    expect(seen.carried).toEqual({ requestId: 'req-1', user: { id: 7, roles: ['admin'] } });
  });

  it('code deep in the task that only knows the storage reads it (a logger, say)', async () => {
    const pool = carryPool();
    expect(await requestId.run('req-42', () => pool.run('hello', { name: 'logs' }))).toBe(
      '[req-42] hello',
    );
    expect(await pool.run('hello', { name: 'logs' })).toBe('[no request] hello');
  });

  it('a synchronous task sees them too', async () => {
    const pool = carryPool();
    expect(
      await requestId.run('req-sync', () => pool.run(undefined, { name: 'seenSync' })),
    ).toEqual({
      store: 'req-sync',
      carried: { requestId: 'req-sync' },
    });
  });

  it('concurrent runs with different values each see their own, interleaved on shared threads', async () => {
    const pool = carryPool({ minThreads: 2, maxThreads: 2, concurrentTasksPerWorker: 4 });
    const ids = Array.from({ length: 24 }, (_, i) => `req-${i}`);
    const results = await Promise.all(
      ids.map((id, i) =>
        requestId.run(id, () =>
          user.run({ id: i, roles: [] }, () => pool.run(i % 5, { name: 'seen' })),
        ),
      ),
    );
    results.forEach((seen, i) => {
      const expected = { store: `req-${i}`, user: { id: i, roles: [] } };
      expect(seen.before).toEqual(expected);
      expect(seen.after).toEqual(expected);
    });
  });

  it('the values are those of when run() was called, even if the task waits in the queue', async () => {
    const pool = carryPool();
    const current = { id: 1, roles: ['reader'] };
    const [first, second] = await user.run(current, () => {
      const runs = [pool.run(20, { name: 'seen' }), pool.run(0, { name: 'seen' })];
      // Mutated after submission, while the second task waits for the only thread.
      current.roles.push('writer');
      current.id = 2;
      return Promise.all(runs);
    });
    expect(first.before.user).toEqual({ id: 1, roles: ['reader'] });
    expect(second.before.user).toEqual({ id: 1, roles: ['reader'] });
  });

  it('nothing leaks into the next task on the same thread', async () => {
    const pool = carryPool();
    await requestId.run('req-1', () => pool.run(0, { name: 'seen' }));
    const next = await pool.run(0, { name: 'seen' });
    expect(next.before).toEqual({ store: undefined, user: undefined });
    expect(next.carried).toEqual({});
  });

  it('a key the thread did not register is still readable as currentTask().carried', async () => {
    const tenant = new AsyncLocalStorage<string>();
    const pool = carryPool({ carry: { requestId, tenant } });
    const seen = await tenant.run('acme', () => pool.run(0, { name: 'seen' }));
    expect(seen.carried).toEqual({ tenant: 'acme' });
    expect(seen.before.store).toBeUndefined();
  });

  it('pool.stream(): every value the generator yields sees them, across awaits', async () => {
    const pool = carryPool();
    const values: string[] = [];
    await requestId.run('req-s', async () => {
      for await (const value of pool.stream(3, { name: 'streamed' })) values.push(value);
    });
    expect(values).toEqual(['req-s:0', 'req-s:1', 'req-s:2']);
  });

  it('a transferred argument still moves (the values travel beside it)', async () => {
    const pool = carryPool();
    const buffer = new ArrayBuffer(1024);
    const seen = await requestId.run('req-t', () =>
      pool.run(transfer(buffer), { name: 'bufferSeen' }),
    );
    expect(seen).toEqual({ bytes: 1024, store: 'req-t' });
    expect(buffer.byteLength).toBe(0);
  });

  it('pool.broadcast() carries them to every thread', async () => {
    const pool = carryPool({ minThreads: 2, maxThreads: 2 });
    const results = await requestId.run('req-b', () => pool.broadcast(0, { name: 'seen' }));
    expect(results).toHaveLength(2);
    for (const entry of results) {
      expect(entry.status).toBe('fulfilled');
      expect((entry as { value: { before: unknown } }).value.before).toEqual({
        store: 'req-b',
        user: undefined,
      });
    }
  });
});

describe('carry: nothing crosses when there is nothing to carry', () => {
  it('outside storage.run() the task message carries only the argument', async () => {
    const pool = carryPool();
    await pool.run(0, { name: 'seenSync' });
    const runs = recordRuns();
    expect(await pool.run(0, { name: 'seenSync' })).toEqual({ store: undefined, carried: {} });
    expect(runs).toHaveLength(1);
    expect((runs[0]?.flags ?? 0) & RunFlag.Context).toBe(0);
    expect(runs[0]?.arg).toBe(0);
  });

  it('inside storage.run() the values travel as key/value pairs after the argument', async () => {
    const pool = carryPool();
    await pool.run(0, { name: 'seenSync' });
    const runs = recordRuns();
    await requestId.run('req-1', () => pool.run(0, { name: 'seenSync' }));
    expect((runs[0]?.flags ?? 0) & RunFlag.Context).toBe(RunFlag.Context);
    // [arg, traceId, spanId, traceFlags, headers, key, value] (context.ts ContextCarrier).
    expect(runs[0]?.arg).toEqual([
      0,
      undefined,
      undefined,
      undefined,
      undefined,
      'requestId',
      'req-1',
    ]);
  });

  it('without the option, a value set around run() does not cross', async () => {
    const pool = createPool({ filename: carryTasks, minThreads: 1, maxThreads: 1 });
    await pool.run(0, { name: 'seenSync' });
    const runs = recordRuns();
    expect(await requestId.run('req-1', () => pool.run(0, { name: 'seenSync' }))).toEqual({
      store: undefined,
      carried: {},
    });
    expect((runs[0]?.flags ?? 0) & RunFlag.Context).toBe(0);
  });
});

describe('carry: a store that cannot be copied', () => {
  it('rejects that task with ERR_OFFTHREAD_UNCLONEABLE naming the key; other tasks and the pool are unaffected', async () => {
    const pool = carryPool();
    const good = requestId.run('req-ok', () => pool.run(10, { name: 'seen' }));
    const error = await rejectionOf(
      user.run({ id: 1, roles: [], save: () => {} } as never, () => pool.run(0, { name: 'seen' })),
    );
    expect(error.code).toBe('ERR_OFFTHREAD_UNCLONEABLE');
    expect(error.message).toMatch(/options\.carry\.user could not be copied/);
    expect(error.message).toMatch(/Carry plain data/);
    expect((await good).before.store).toBe('req-ok');
    expect(await requestId.run('req-after', () => pool.run(0, { name: 'seenSync' }))).toEqual({
      store: 'req-after',
      carried: { requestId: 'req-after' },
    });
    expect(pool.stats().failed).toBe(0);
  });

  it('pool.broadcast() rejects the same way', async () => {
    const pool = carryPool();
    const error = await rejectionOf(
      user.run(Symbol('not cloneable') as never, () => pool.broadcast(0, { name: 'seen' })),
    );
    expect(error.code).toBe('ERR_OFFTHREAD_UNCLONEABLE');
    expect(error.message).toMatch(/options\.carry\.user/);
  });
});

describe('carry: bad options say how to fix them', () => {
  it('options.carry must be an object of AsyncLocalStorage instances', () => {
    expect(() => createPool({ carry: 'requestId' as never })).toThrow(
      /options\.carry must be an object naming AsyncLocalStorage instances by key, like \{ requestId: requestIdStorage \}, got "requestId"/,
    );
    expect(() => createPool({ carry: requestId as never })).toThrow(
      /options\.carry must be an object naming/,
    );
    expect(() => createPool({ carry: { requestId: 'x' } as never })).toThrow(
      /options\.carry\.requestId must be an AsyncLocalStorage \(new AsyncLocalStorage\(\) from node:async_hooks\), got "x"/,
    );
  });

  it('an empty carry costs nothing: pool.options.carry is undefined; a given one is a frozen copy', () => {
    expect(createPool({ carry: {} }).options.carry).toBeUndefined();
    const carry = { requestId };
    const options = createPool({ carry }).options;
    expect(options.carry).not.toBe(carry);
    expect(Object.isFrozen(options.carry)).toBe(true);
    expect(options.carry?.requestId).toBe(requestId);
  });

  it('restoreCarry() outside a pool thread only validates (a module shared with the caller may call it)', () => {
    expect(() => restoreCarry({ requestId })).not.toThrow();
    expect(() => restoreCarry({ requestId: 1 } as never)).toThrow(
      /restoreCarry\(storages\): storages\.requestId must be an AsyncLocalStorage/,
    );
  });
});

describe('carry and trace context with runtime: process', () => {
  it('the values cross into a child process the same way (the carrier travels in the task message)', async () => {
    const pool = carryPool({ runtime: 'process' });
    const seen = await requestId.run('req-proc', () => pool.run(1, { name: 'seen' }));
    expect(seen.before.store).toBe('req-proc');
    expect(seen.after.store).toBe('req-proc');
    expect(seen.carried).toEqual({ requestId: 'req-proc' });
  });
});
