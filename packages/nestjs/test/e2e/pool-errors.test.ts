import { describe, expect, it } from 'vitest';
import { startApp } from '../support/app.js';
import { get, waitFor } from '../support/http.js';

describe('pool errors become HTTP errors', () => {
  it('a call past its timeout answers 504 and its thread is replaced', async () => {
    const { url } = await startApp({ maxThreads: 1 });
    const reply = await get(`${url}/busy/5000`);
    expect(reply.status).toBe(504);
    expect(reply.body).toMatchObject({
      statusCode: 504,
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
