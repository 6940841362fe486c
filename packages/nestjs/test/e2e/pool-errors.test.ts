import { describe, expect, it } from 'vitest';
import { startApp } from '../support/app.js';
import { get, waitFor } from '../support/http.js';

describe('pool errors become HTTP errors (the table shared with @offthread/express)', () => {
  it('a call past its timeout answers 503 with Retry-After, and its thread is replaced', async () => {
    const { url } = await startApp({ maxThreads: 1, retryAfter: 4 });
    const reply = await get(`${url}/busy/5000`);
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('4');
    expect(reply.body).toMatchObject({
      statusCode: 503,
      code: 'ERR_OFFTHREAD_TIMEOUT',
      message: expect.stringMatching(/took too long/),
    });
    // The next call gets a fresh thread (and context) and succeeds.
    expect((await get(`${url}/busy/10`)).body).toBe(10);
  });

  it('a full queue answers 503 with Retry-After, without waiting', async () => {
    const { url } = await startApp({ maxThreads: 1, maxQueue: 1, retryAfter: 7 });
    const running = get(`${url}/slices/1500`);
    await waitFor(
      async () => (await get(`${url}/stats`)).body.running === 1,
      'the first call to run',
    );
    const queued = get(`${url}/slices/10`);
    await waitFor(
      async () => (await get(`${url}/stats`)).body.queued === 1,
      'the second call to queue',
    );
    const rejected = await get(`${url}/slices/10`);
    expect(rejected.status).toBe(503);
    expect(rejected.headers['retry-after']).toBe('7');
    expect(rejected.body).toMatchObject({ statusCode: 503 });
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
  });
});

describe('queue-wait bound of requests', () => {
  it('a call that waits in the queue past requestQueueTimeout answers 503 with Retry-After', async () => {
    const { url } = await startApp({ maxThreads: 1, requestQueueTimeout: 200, retryAfter: 3 });
    const running = get(`${url}/slices/2000`);
    await waitFor(
      async () => (await get(`${url}/stats`)).body.running === 1,
      'the first call to run',
    );
    const waited = await get(`${url}/slices/10`);
    expect(waited.status).toBe(503);
    expect(waited.headers['retry-after']).toBe('3');
    expect(waited.body).toMatchObject({ statusCode: 503, code: 'ERR_OFFTHREAD_QUEUE_TIMEOUT' });
    expect((await running).status).toBe(200);
  });
});

describe('server-side failures answer 500 without internals', () => {
  it('a crashed thread answers 500; the body has no path, and the next call works', async () => {
    const { url } = await startApp({ maxThreads: 1 });
    const reply = await get(`${url}/crash`);
    expect(reply.status).toBe(500);
    expect(reply.headers['retry-after']).toBeUndefined();
    expect(reply.body).toMatchObject({ statusCode: 500, code: 'ERR_OFFTHREAD_WORKER_EXIT' });
    expect(JSON.stringify(reply.body)).not.toMatch(/[\\/]fixtures[\\/]|\.js/);
    expect((await get(`${url}/build/10`)).status).toBe(200);
  });

  it('an uncloneable result answers 500 without the function source', async () => {
    const { url } = await startApp({ maxThreads: 1 });
    const reply = await get(`${url}/uncloneable`);
    expect(reply.status).toBe(500);
    expect(reply.body).toMatchObject({ statusCode: 500, code: 'ERR_OFFTHREAD_UNCLONEABLE' });
    expect(JSON.stringify(reply.body)).not.toMatch(/secret-source/);
  });
});
