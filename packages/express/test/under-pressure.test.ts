import { pbkdf2 } from 'node:crypto';
import { Pool } from '@offthread/core';
import { createMonitor } from '@offthread/diagnostics';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PressureType,
  type UnderPressureMiddleware,
  type UnderPressureOptions,
  underPressure,
} from '../src/index.js';
import {
  type ExpressFactory,
  expressVersions,
  fetchJson,
  fetchText,
  fixture,
  listen,
  type Running,
} from './helpers.js';

/** Wait for a condition the sampler sets on its own timer (there is no event to await). */
async function until(condition: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
}

describe.each(expressVersions)('underPressure() with %s', (_name, express) => {
  let pressure: UnderPressureMiddleware | undefined;
  let server: Running | undefined;

  afterEach(async () => {
    pressure?.close();
    await server?.close();
    pressure = undefined;
    server = undefined;
  });

  async function start(options: UnderPressureOptions, make: ExpressFactory = express) {
    pressure = underPressure(options);
    const app = make();
    app.use(pressure);
    app.get('/work', (_req, res) => {
      res.json({ ok: true });
    });
    server = await listen(app);
    return { pressure, server };
  }

  it('lets requests through and measures when no limit is exceeded', async () => {
    const { pressure, server } = await start({ sampleInterval: 20 });
    await until(() => pressure.metrics().heapUsedBytes > 0);
    expect((await fetchJson(`${server.url}/work`)).json).toEqual({ ok: true });
    expect(pressure.isUnderPressure()).toBe(false);
    expect(pressure.pressure()).toBeUndefined();
    const m = pressure.metrics();
    expect(m.rssBytes).toBeGreaterThan(m.heapUsedBytes);
    expect(m.eventLoopUtilization).toBeGreaterThanOrEqual(0);
    expect(m.eventLoopUtilization).toBeLessThanOrEqual(1);
    expect(m.healthy).toBe(true);
  });

  it('answers 503 with Retry-After over maxHeapUsedBytes', async () => {
    const { pressure, server } = await start({ sampleInterval: 20, maxHeapUsedBytes: 1 });
    await until(() => pressure.isUnderPressure());
    const res = await fetchJson(`${server.url}/work`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('10');
    expect(res.json).toMatchObject({
      error: 'Service Unavailable',
      type: PressureType.HEAP_USED_BYTES,
    });
    expect(pressure.pressure()).toMatchObject({ type: 'heapUsedBytes' });
  });

  it('answers 503 over maxRssBytes, with the configured retryAfter', async () => {
    const { pressure, server } = await start({ sampleInterval: 20, maxRssBytes: 1, retryAfter: 3 });
    await until(() => pressure.isUnderPressure());
    const res = await fetchJson(`${server.url}/work`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.json.type).toBe(PressureType.RSS_BYTES);
  });

  it('sheds load after the event loop was blocked, and recovers', async () => {
    const { pressure, server } = await start({ sampleInterval: 200, maxEventLoopDelay: 50 });
    await until(() => pressure.metrics().heapUsedBytes > 0);
    block(450);
    await until(() => pressure.isUnderPressure(), 1000);
    expect(pressure.pressure()!.type).toBe(PressureType.EVENT_LOOP_DELAY);
    expect(pressure.metrics().eventLoopDelay).toBeGreaterThan(50);
    expect((await fetchText(`${server.url}/work`)).status).toBe(503);
    await until(() => !pressure.isUnderPressure(), 2000);
    expect((await fetchText(`${server.url}/work`)).status).toBe(200);
  });

  it('measures event-loop utilization per interval, not since start', async () => {
    const { pressure, server } = await start({ sampleInterval: 200, maxEventLoopUtilization: 0.5 });
    await until(() => pressure.metrics().heapUsedBytes > 0);
    block(450);
    await until(() => pressure.isUnderPressure(), 1000);
    expect(pressure.pressure()!.type).toBe(PressureType.EVENT_LOOP_UTILIZATION);
    expect((await fetchJson(`${server.url}/work`)).json.type).toBe('eventLoopUtilization');
    // An idle interval brings it back down, which a cumulative measure would not.
    await until(() => !pressure.isUnderPressure(), 2000);
    expect(pressure.metrics().eventLoopUtilization).toBeLessThan(0.5);
  });

  it('sheds load when the offthread pool queue is over maxPoolQueue', async () => {
    const pool = new Pool({ minThreads: 1, maxThreads: 1 });
    try {
      const { pressure, server } = await start({ sampleInterval: 20, maxPoolQueue: 1, pool });
      const tasks = [1, 2, 3].map(() =>
        pool.run({ query: { ms: '300' } }, { filename: fixture('slow.mjs') }),
      );
      for (const task of tasks) task.catch(() => {});
      await until(() => pressure.isUnderPressure());
      // 2 wait behind the running one (3 while the thread is still starting).
      expect(pressure.pressure()!.type).toBe(PressureType.POOL_QUEUE);
      expect(pressure.pressure()!.value).toBeGreaterThanOrEqual(2);
      expect((await fetchJson(`${server.url}/work`)).json.type).toBe('poolQueue');
      await Promise.all(tasks);
      await until(() => !pressure.isUnderPressure());
    } finally {
      await pool.destroy();
    }
  });

  it('sheds load while the libuv thread pool is saturated (maxThreadpoolQueueWait)', async () => {
    const { pressure, server } = await start({ sampleInterval: 20, maxThreadpoolQueueWait: 100 });
    await until(() => pressure.metrics().heapUsedBytes > 0);
    // More slow crypto jobs than libuv threads (4 by default, UV_THREADPOOL_SIZE otherwise),
    // kept coming until the test has seen the 503: the pool stays saturated throughout.
    const size = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    let saturate = true;
    const worker = async () => {
      while (saturate) {
        await new Promise((resolve) => pbkdf2('secret', 'salt', 100_000, 64, 'sha512', resolve));
      }
    };
    const jobs = Array.from({ length: size * 3 }, worker);
    try {
      await until(() => pressure.isUnderPressure());
      expect(pressure.pressure()!.type).toBe(PressureType.THREADPOOL_QUEUE_WAIT);
      expect((await fetchJson(`${server.url}/work`)).status).toBe(503);
    } finally {
      saturate = false;
      await Promise.all(jobs);
    }
    await until(() => !pressure.isUnderPressure());
  });

  it('sees a block that ended between two samples, not only one the sample timer waited on', async () => {
    const { pressure } = await start({ sampleInterval: 500, maxEventLoopDelay: 200 });
    // Block right after a sample: the next sample's timer is not late, so only a delay
    // measurement that keeps the block until the sample can see it.
    await new Promise<void>((resolve) => pressure.monitor.once('sample', () => resolve()));
    block(300);
    await new Promise<void>((resolve) => pressure.monitor.once('sample', () => resolve()));
    expect(pressure.metrics().eventLoopDelay).toBeGreaterThanOrEqual(250);
    expect(pressure.pressure()?.type).toBe(PressureType.EVENT_LOOP_DELAY);
  });

  it("measures with @offthread/diagnostics' monitor, which it exposes for exporters", async () => {
    const { pressure } = await start({ sampleInterval: 20 });
    await new Promise<void>((resolve) => pressure.monitor.once('sample', () => resolve()));
    // What createPrometheusCollector() and createOpenTelemetryBridge() read.
    const snapshot = pressure.monitor.snapshot();
    expect(snapshot.interval?.eventLoop.utilization).toEqual(expect.any(Number));
    expect(pressure.monitor.running).toBe(true);
    pressure.close();
    expect(pressure.monitor.running).toBe(false);
  });

  it('uses a monitor the app already runs, and leaves it running on close()', async () => {
    const monitor = createMonitor({ sampleInterval: 20, profileBlocks: false, threadpool: false });
    monitor.start();
    try {
      const { pressure } = await start({ monitor, maxHeapUsedBytes: 1 });
      expect(pressure.monitor).toBe(monitor);
      await until(() => pressure.isUnderPressure());
      pressure.close();
      expect(monitor.running).toBe(true);
    } finally {
      monitor.stop();
    }
  });

  it('runs healthCheck and hands pressure to pressureHandler', async () => {
    let healthy = false;
    const calls: [string, number | undefined][] = [];
    const { pressure, server } = await start({
      sampleInterval: 20,
      healthCheckInterval: 20,
      healthCheck: async () => healthy,
      pressureHandler: (req, res, next, type, value) => {
        calls.push([type, value]);
        if (req.query.pass) next();
        else res.status(429).send('custom');
      },
    });
    await until(() => pressure.isUnderPressure());
    const res = await fetchText(`${server.url}/work`);
    expect(res.status).toBe(429);
    expect(res.text).toBe('custom');
    expect(calls.at(-1)).toEqual([PressureType.HEALTH_CHECK, undefined]);
    expect((await fetchText(`${server.url}/work?pass=1`)).status).toBe(200);
    healthy = true;
    await until(() => !pressure.isUnderPressure());
    expect((await fetchText(`${server.url}/work`)).status).toBe(200);
  });

  it('treats a throwing healthCheck as unhealthy', async () => {
    const { pressure } = await start({
      healthCheckInterval: 20,
      healthCheck: () => {
        throw new Error('database down');
      },
    });
    await until(() => pressure.isUnderPressure());
    expect(pressure.metrics().healthy).toBe(false);
  });

  it('answers the status route with 200 or 503 and the metrics', async () => {
    let healthy = true;
    const { pressure, server } = await start({
      sampleInterval: 20,
      healthCheckInterval: 20,
      healthCheck: () => healthy,
      statusRoute: '/status',
    });
    const ok = await fetchJson(`${server.url}/status`);
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.json.status).toBe('ok');
    expect(ok.json.metrics).toHaveProperty('eventLoopDelay');
    healthy = false;
    await until(() => pressure.isUnderPressure());
    const bad = await fetchJson(`${server.url}/status`);
    expect(bad.status).toBe(503);
    expect(bad.headers['retry-after']).toBe('10');
    expect(bad.json).toMatchObject({ status: 'under pressure', type: 'healthCheck' });
  });

  it('lets everything through after close()', async () => {
    const { pressure, server } = await start({ sampleInterval: 20, maxHeapUsedBytes: 1 });
    await until(() => pressure.isUnderPressure());
    pressure.close();
    expect(pressure.isUnderPressure()).toBe(false);
    expect((await fetchText(`${server.url}/work`)).status).toBe(200);
  });
});
