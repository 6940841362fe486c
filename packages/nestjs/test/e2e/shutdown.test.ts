import { describe, expect, it } from 'vitest';
import type * as DrainApp from '../fixtures/app/drain-app.js';
import type * as Service from '../fixtures/app/report.service.js';
import { startApp, stopApp } from '../support/app.js';
import { get, waitFor } from '../support/http.js';
import { fixture } from '../support/stage.js';

describe('application shutdown', () => {
  it('lets calls in flight finish, then closes the pool and refuses new connections', async () => {
    const { app, url } = await startApp({ maxThreads: 1 });
    const inFlight = get(`${url}/slices/800`);
    await waitFor(async () => (await get(`${url}/stats`)).body.running === 1, 'the call to run');
    const closing = stopApp(app);
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ aborted: false });
    await closing;
    await expect(get(`${url}/stats`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('rejects calls still running after shutdownTimeout with ERR_OFFTHREAD_POOL_CLOSED', async () => {
    // A call not tied to a request (a queue consumer, a cron job): nothing else waits for it.
    const { app } = await startApp({ maxThreads: 1, shutdownTimeout: 100 });
    const { ReportService } = fixture<typeof Service>('app/report.service.js');
    const pool = app.get('offthread:pool');
    const call = app
      .get(ReportService)
      .slices(10_000)
      .catch((error: unknown) => error);
    await waitFor(() => pool.stats().running === 1, 'the call to run');
    const started = Date.now();
    await stopApp(app);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(pool.threadCount).toBe(0);
    expect(await call).toMatchObject({ code: 'ERR_OFFTHREAD_POOL_CLOSED' });
  });

  it('a request whose call never settles cannot hold shutdown: after shutdownTimeout it answers 503 and the app closes', async () => {
    // Nest waits for requests in flight before onApplicationShutdown; the grace period must
    // start before that wait, or a call without a timeout keeps the process up forever.
    const { app, url } = await startApp({ maxThreads: 1, shutdownTimeout: 300 });
    const inFlight = get(`${url}/never`, { timeoutMs: 60_000 });
    await waitFor(async () => (await get(`${url}/stats`)).body.running === 1, 'the call to run');
    let closed = false;
    const closing = stopApp(app).then(() => {
      closed = true;
    });
    const reply = await inFlight;
    expect(reply.status).toBe(503);
    expect(reply.body.code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    await waitFor(() => closed, 'app.close() to resolve', 20_000);
    await closing;
  });

  it('requests served during a beforeApplicationShutdown drain still get their calls: the grace period starts when Nest closes the server', async () => {
    const { createDrainApp } = fixture<typeof DrainApp>('app/drain-app.js');
    const { app, url, drain } = await createDrainApp();
    const closing = app.close();
    await drain.drainStarted;
    // Longer than shutdownTimeout (200 ms) into the drain, while the server still serves.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const reply = await get(`${url}/build/10`);
    expect(reply.status).toBe(200);
    drain.endDrain();
    await closing;
  });

  it('closes the worker-side Nest context, so its onModuleDestroy hooks run in the thread', async () => {
    const { mkdtempSync, readFileSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const log = join(mkdtempSync(join(tmpdir(), 'offthread-nest-destroy-')), 'log.txt');
    process.env.OFFTHREAD_TEST_DESTROY_LOG = log;
    try {
      const { app, url } = await startApp({ maxThreads: 1 });
      expect((await get(`${url}/build/5`)).status).toBe(200);
      await stopApp(app);
      expect(existsSync(log)).toBe(true);
      expect(readFileSync(log, 'utf8').split('\n')).toContain('worker');
    } finally {
      delete process.env.OFFTHREAD_TEST_DESTROY_LOG;
    }
  });

  it('a call made after shutdown is rejected at once', async () => {
    const { app } = await startApp({ maxThreads: 1 });
    const { ReportService } = fixture<typeof Service>('app/report.service.js');
    const service = app.get(ReportService);
    await stopApp(app);
    await expect(service.build(3)).rejects.toThrow(/no OffThreadModule is running/);
  });
});
