import { describe, expect, it } from 'vitest';
import { startApp } from '../support/app.js';
import { get, waitFor } from '../support/http.js';

const stats = async (url: string) => (await get(`${url}/stats`)).body;

describe('client disconnect aborts the call', () => {
  it('a running call is signalled and stops; a queued call is removed', async () => {
    const { url } = await startApp({ maxThreads: 1 });
    const running = new AbortController();
    const queued = new AbortController();
    const first = get(`${url}/slices/10000`, { signal: running.signal }).catch((e) => e);
    await waitFor(async () => (await stats(url)).running === 1, 'the call to run');
    const second = get(`${url}/slices/10000`, { signal: queued.signal }).catch((e) => e);
    await waitFor(async () => (await stats(url)).queued === 1, 'the second call to queue');

    queued.abort();
    await waitFor(async () => (await stats(url)).queued === 0, 'the queued call to be removed');
    expect((await stats(url)).running).toBe(1);

    running.abort();
    // The task checks its signal every 5 ms: it stops long before its 10 s are up.
    await waitFor(async () => (await stats(url)).running === 0, 'the running call to stop', 3000);
    const after = await stats(url);
    expect(after.failed).toBe(2);
    expect(after.threadsReplaced).toBe(0);
    expect((await first).name).toBe('AbortError');
    expect((await second).name).toBe('AbortError');
  });
});
