import { OffThreadError } from '@offthread/core';
import { CLIENT_GONE, poolErrorResponse, withHttpFields } from '@offthread/core/adapter';
import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf } from './helpers.js';

/** The status the shared table gives the error a real pool rejects with. */
function statusOf(error: unknown, signal?: AbortSignal) {
  const response = poolErrorResponse(error, signal);
  return response === CLIENT_GONE || response === undefined ? response : response.status;
}

describe('the error → HTTP table (one meaning for both adapters)', () => {
  it('answers a task timeout with 503 and Retry-After, never 504', async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await rejectionOf(pool.run(5000, { name: 'busy', timeout: 50 }));
    const response = poolErrorResponse(error);
    expect(response).toMatchObject({
      status: 503,
      retryAfter: true,
      code: 'ERR_OFFTHREAD_TIMEOUT',
    });
  });

  it('answers a full queue and a closing pool with 503 and Retry-After', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, maxQueue: 1 });
    await pool.run(1);
    const running = Promise.allSettled([1, 2, 3, 4].map(() => pool.run(100, { name: 'busy' })));
    const full = await rejectionOf(pool.run(1));
    expect(full.code).toBe('ERR_OFFTHREAD_QUEUE_FULL');
    expect(poolErrorResponse(full)).toMatchObject({ status: 503, retryAfter: true });
    await running;
    await pool.close();
    const closed = await rejectionOf(pool.run(1));
    expect(closed.code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    expect(poolErrorResponse(closed)).toMatchObject({ status: 503, retryAfter: true });
  });

  it('answers a queue wait past queueTimeout with 503 and Retry-After', () => {
    const error = new OffThreadError(
      'ERR_OFFTHREAD_QUEUE_TIMEOUT' as never,
      'The task waited in the queue longer than its 10 ms queueTimeout',
    );
    expect(poolErrorResponse(error)).toMatchObject({ status: 503, retryAfter: true });
  });

  it('answers a thread crash, a module failure and uncloneable data with 500 and no Retry-After', async () => {
    const pool = createPool({ maxThreads: 1 });
    const exit = await rejectionOf(pool.run(3, { filename: fixture('crash.mjs'), name: 'exit' }));
    const init = await rejectionOf(
      pool.run(1, { filename: fixture('adapter/throws-on-load.mjs') }),
    );
    const missing = await rejectionOf(pool.run(1, { name: 'noSuchExport' }));
    const uncloneable = await rejectionOf(pool.run(() => 1));
    for (const [error, code] of [
      [exit, 'ERR_OFFTHREAD_WORKER_EXIT'],
      [init, 'ERR_OFFTHREAD_WORKER_INIT'],
      [missing, 'ERR_OFFTHREAD_TASK_NOT_FOUND'],
      [uncloneable, 'ERR_OFFTHREAD_UNCLONEABLE'],
    ] as const) {
      expect(error.code).toBe(code);
      expect(poolErrorResponse(error)).toMatchObject({
        status: 500,
        retryAfter: false,
        expose: false,
      });
    }
  });

  it('sends nothing when the adapter aborted the task because the client left', async () => {
    const pool = createPool({ maxThreads: 1 });
    const controller = new AbortController();
    const task = pool.run(5000, { name: 'cooperative', signal: controller.signal });
    controller.abort(new Error('client closed the connection'));
    const error = await rejectionOf(task);
    expect(statusOf(error, controller.signal)).toBe(CLIENT_GONE);
    // Aborted by some other signal: the server's own doing, a 500.
    expect(statusOf(error, new AbortController().signal)).toBe(500);
  });

  it('leaves errors the handler threw alone', () => {
    expect(poolErrorResponse(new TypeError('bad input'))).toBeUndefined();
    expect(poolErrorResponse(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBeUndefined();
  });

  it('gives client-visible messages without paths or function source', async () => {
    const pool = createPool({ maxThreads: 1 });
    const errors = [
      await rejectionOf(pool.run(() => 1)),
      await rejectionOf(pool.run(1, { filename: fixture('adapter/throws-on-load.mjs') })),
      await rejectionOf(pool.run(3, { filename: fixture('crash.mjs'), name: 'exit' })),
    ];
    for (const error of errors) {
      const response = poolErrorResponse(error);
      if (!response || response === CLIENT_GONE) throw new Error('expected a response');
      expect(response.message).not.toMatch(/\/|=>|\\/);
    }
  });

  it('sets expose only below 500, as http-errors does', async () => {
    const pool = createPool({ maxThreads: 1 });
    const exit = await rejectionOf(pool.run(3, { filename: fixture('crash.mjs'), name: 'exit' }));
    const fields = withHttpFields(exit, { status: 500, retryAfter: false }, 1);
    expect(fields).toMatchObject({ status: 500, statusCode: 500, expose: false });
    const busy = withHttpFields(new Error('x'), { status: 503, retryAfter: true }, 7);
    expect(busy).toMatchObject({ status: 503, expose: false, headers: { 'Retry-After': '7' } });
    const own = withHttpFields(
      Object.assign(new Error('x'), { status: 422 }),
      { status: 500, retryAfter: false },
      1,
    );
    expect(own).toMatchObject({ status: 422, expose: true });
  });
});
