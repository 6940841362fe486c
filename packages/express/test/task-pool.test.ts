import { Pool, type TaskPool } from '@offthread/core';
import { afterAll, describe, expect, it } from 'vitest';
import { offThread, underPressure } from '../src/index.js';
import { expressVersions, fetchJson, fixture, listen } from './helpers.js';

/**
 * A TaskPool that is not a Pool: it forwards to one and counts the runs, as a remote pool or an
 * app's own wrapper (metrics, tracing) would.
 */
function countingPool(inner: Pool): TaskPool & { runs: number } {
  const wrapper = {
    runs: 0,
    run(arg?: unknown, options?: Parameters<Pool['run']>[1]) {
      wrapper.runs++;
      return inner.run(arg, options);
    },
    proxy: inner.proxy.bind(inner),
    preload: inner.preload.bind(inner),
    stats: inner.stats.bind(inner),
    close: inner.close.bind(inner),
    destroy: inner.destroy.bind(inner),
    on(event: string | symbol, listener: (...args: any[]) => void) {
      inner.on(event, listener);
      return wrapper;
    },
    once(event: string | symbol, listener: (...args: any[]) => void) {
      inner.once(event, listener);
      return wrapper;
    },
    off(event: string | symbol, listener: (...args: any[]) => void) {
      inner.off(event, listener);
      return wrapper;
    },
  };
  return wrapper as TaskPool & { runs: number };
}

describe.each(expressVersions)('any TaskPool, with %s', (_name, express) => {
  const inner = new Pool({ minThreads: 1, maxThreads: 1 });
  afterAll(() => inner.destroy());

  it('runs offThread() routes and feeds underPressure() from a TaskPool that is not a Pool', async () => {
    const pool = countingPool(inner);
    const route = offThread(fixture('echo.mjs'), { pool });
    expect(route.pool).toBe(pool);
    await route.ready;
    const pressure = underPressure({ pool, maxPoolQueue: 100, sampleInterval: 20 });
    const app = express();
    app.use(pressure);
    app.get('/echo', route);
    const server = await listen(app);
    try {
      const res = await fetchJson(`${server.url}/echo?x=1`);
      expect(res.status).toBe(200);
      expect(res.json.query).toEqual({ x: '1' });
      // The start-up check and the request both went through the wrapper.
      expect(pool.runs).toBe(2);
    } finally {
      pressure.close();
      await server.close();
    }
  });
});
