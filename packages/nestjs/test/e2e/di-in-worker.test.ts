import { threadId } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as AsyncConfig from '../fixtures/app/async-config.js';
import { startApp } from '../support/app.js';
import { get } from '../support/http.js';
import { fixture } from '../support/stage.js';

describe('dependency injection inside the worker', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await startApp());
  });

  it('runs the method body in a pool thread, on an instance built there with its dependencies', async () => {
    const reply = await get(`${url}/build/20`);
    expect(reply.status).toBe(200);
    expect(reply.body.value).toBe('#6765');
    expect(reply.body.threadId).not.toBe(threadId);
    // The service and the formatter it injects were both constructed in that thread.
    expect(reply.body.serviceThread).toBe(reply.body.threadId);
    expect(reply.body.formatterThread).toBe(reply.body.threadId);
  });

  it('a transient provider runs in a thread with its dependencies, resolved anew for each call (as the README says)', async () => {
    const reply = await get(`${url}/tally`);
    expect(reply.status).toBe(200);
    expect(reply.body[0].threadId).not.toBe(threadId);
    // Each call gets a fresh instance in the thread: state on `this` does not carry over.
    expect(reply.body.map((r: { count: string }) => r.count)).toEqual(['#1', '#1']);
  });

  it('bootstraps the context once per thread and reuses it', async () => {
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => get(`${url}/build/${i + 5}`)),
    );
    const threads = new Set(replies.map((r) => r.body.threadId));
    expect(threads.size).toBeLessThanOrEqual(2);
    for (const r of replies) expect(r.body.serviceThread).toBe(r.body.threadId);
  });

  it('calls carry a short target id; a thread that never saw the target gets it whole once', async () => {
    // No start-up check: the thread learns the target from the first call.
    const { url: fresh } = await startApp({ maxThreads: 1, preflight: false });
    const completed = async () => (await get(`${fresh}/stats`)).body.completed as number;
    const before = await completed();
    expect((await get(`${fresh}/build/10`)).body.value).toBe('#55');
    // The id-only call, answered "unknown target", then the call with the whole target.
    expect((await completed()) - before).toBe(2);
    expect((await get(`${fresh}/build/11`)).body.value).toBe('#89');
    expect((await completed()) - before).toBe(3);
  });

  it('moves transferables instead of copying them', async () => {
    const reply = await get(`${url}/sum?size=4096`);
    expect(reply.body).toEqual({ total: 4096, detached: true });
  });

  it('forRootAsync reads config from a provider; without workerModule the provider’s own module is bootstrapped', async () => {
    const { runWithAsyncConfig } = fixture<typeof AsyncConfig>('app/async-config.js');
    const { result, maxThreads } = await runWithAsyncConfig(10);
    expect(maxThreads).toBe(1);
    expect(result.value).toBe('#55');
    expect(result.formatterThread).toBe(result.threadId);
    expect(result.threadId).not.toBe(threadId);
  });
});
