import { isOffThreadError, OffThreadError } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, rejectionOf, waitFor } from './helpers.js';

/** What every abort rejection must look like: Node's AbortError shape, offthread's code. */
function expectAbortError(error: any, reason: unknown) {
  expect(error.name).toBe('AbortError');
  expect(error.cause).toBe(reason);
  expect(error.code).toBe('ERR_OFFTHREAD_ABORTED');
  expect(error).toBeInstanceOf(OffThreadError);
  expect(isOffThreadError(error)).toBe(true);
  expect(isOffThreadError(error, 'ERR_OFFTHREAD_ABORTED')).toBe(true);
}

describe('an aborted task rejects like Node APIs do', () => {
  it('when its signal was aborted before run()', async () => {
    const pool = createPool({ maxThreads: 1 });
    const reason = new Error('too late');
    expectAbortError(await rejectionOf(pool.run(1, { signal: AbortSignal.abort(reason) })), reason);
  });

  it('when it was waiting in the queue', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1 });
    await pool.run(1);
    const blocker = pool.run(100, { name: 'busy' });
    const controller = new AbortController();
    const queued = pool.run(1, { signal: controller.signal });
    const reason = { why: 'user went away' };
    controller.abort(reason);
    expectAbortError(await rejectionOf(queued), reason);
    await blocker;
  });

  it('when it was running', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, abortGracePeriod: 5_000 });
    const controller = new AbortController();
    const running = pool.run(10_000, { name: 'cooperative', signal: controller.signal });
    await waitFor(() => pool.stats().running === 1);
    controller.abort();
    const error = await rejectionOf(running);
    expectAbortError(error, controller.signal.reason);
    expect(error.cause).toBeInstanceOf(DOMException);
    expect(error.cause.name).toBe('AbortError');
  });
});
