import { get } from 'node:http';
import { Pool, type TaskPool } from '@offthread/core';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offThread } from '../src/index.js';
import {
  channelListener,
  expressVersions,
  fetchText,
  fixture,
  listen,
  type Running,
} from './helpers.js';

/** The same pool seen as a TaskPool without stream(), as a RemotePool from @offthread/bullmq is. */
function withoutStream(inner: Pool): TaskPool {
  const wrapper: TaskPool = {
    run: inner.run.bind(inner),
    proxy: inner.proxy.bind(inner),
    preload: inner.preload.bind(inner),
    stats: inner.stats.bind(inner),
    close: inner.close.bind(inner),
    destroy: inner.destroy.bind(inner),
    on(event, listener) {
      inner.on(event, listener);
      return wrapper;
    },
    once(event, listener) {
      inner.once(event, listener);
      return wrapper;
    },
    off(event, listener) {
      inner.off(event, listener);
      return wrapper;
    },
  };
  return wrapper;
}

let nextId = 0;
const id = () => `s${++nextId}`;

describe.each(expressVersions)('offThread() streaming with %s', (_name, express) => {
  let pool: Pool;
  let server: Running;
  const errors: { error: Error & { status?: number }; headersSent: boolean }[] = [];
  const channel = channelListener();

  beforeAll(async () => {
    pool = new Pool({ minThreads: 1, maxThreads: 2, abortGracePeriod: 2000 });
    const app = express();
    const stream = offThread(fixture('stream.mjs'), { pool });
    app.get('/stream', stream);
    app.get('/collected', offThread(fixture('stream.mjs'), { pool, stream: false }));
    app.get('/ndjson', offThread(fixture('ndjson.mjs'), { pool }));
    // A TaskPool without stream() (as a RemotePool is): streamed bodies cannot go through it.
    app.get('/no-stream-pool', offThread(fixture('stream.mjs'), { pool: withoutStream(pool) }));
    app.get(
      '/no-stream-pool-collected',
      offThread(fixture('stream.mjs'), { pool: withoutStream(pool), stream: false }),
    );
    app.use((error: Error, _req: Request, res: Response, next: NextFunction) => {
      errors.push({ error, headersSent: res.headersSent });
      next(error);
    });
    await stream.ready;
    server = await listen(app);
  });

  afterAll(async () => {
    channel.close();
    await server?.close();
    await pool?.close();
  });

  it('streams text chunks in order', async () => {
    const res = await fetchText(`${server.url}/stream?count=5`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.text).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n');
  });

  it('keeps concurrent streams apart (one core stream per response)', async () => {
    // Two threads stream at once, with different bytes; each response must get only its own.
    const sizes = [70_000, 90_000, 110_000, 130_000];
    const responses = await Promise.all(
      sizes.map((size) => fetchText(`${server.url}/stream?plain=1&count=4&size=${size}&delay=5`)),
    );
    responses.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(res.text, 'latin1')).toBe(4 * (sizes[i] ?? 0));
    });
  });

  it('streams a plain async iterable as application/octet-stream, bytes intact', async () => {
    const res = await fetchText(`${server.url}/stream?plain=1&count=3&size=100000`);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const body = Buffer.from(res.text, 'latin1');
    expect(res.text.length).toBe(300000);
    expect(body[0]).toBe(0);
    expect(body[100000]).toBe(1);
    expect(body[299999]).toBe(2);
  });

  it('sends each chunk as it is produced, not at the end', async () => {
    const arrivals: number[] = [];
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      get(`${server.url}/stream?count=3&delay=300`, (res) => {
        res.on('data', () => arrivals.push(Date.now() - started));
        res.on('end', resolve);
      }).on('error', reject);
    });
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    // The first chunk arrives well before the last one is produced (600 ms later; half of that
    // leaves room for a busy machine).
    const [first = 0] = arrivals;
    const last = arrivals.at(-1) ?? 0; // at least 3 arrivals, checked above
    expect(last - first).toBeGreaterThanOrEqual(300);
  });

  it('collects the iterable into one body when streaming is off', async () => {
    const res = await fetchText(`${server.url}/collected?count=3`);
    expect(res.headers['content-length']).toBe(String('chunk 0\n'.length * 3));
    expect(res.text).toBe('chunk 0\nchunk 1\nchunk 2\n');
  });

  it('passes an error thrown before the first chunk to next(err) as a normal error response', async () => {
    const res = await fetchText(`${server.url}/stream?count=3&failAt=0`);
    expect(res.status).toBe(500);
    const last = errors.at(-1)!;
    expect(last.error).toBeInstanceOf(RangeError);
    expect(last.error.message).toBe('failed at chunk 0');
    expect(last.headersSent).toBe(false);
  });

  it('cuts the connection when the handler fails mid-stream, and the error still reaches next(err)', async () => {
    const before = errors.length;
    const outcome = await new Promise<string>((resolve) => {
      get(`${server.url}/stream?count=5&failAt=3`, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve('end'));
        res.on('error', () => resolve('error'));
        res.on('aborted', () => resolve('aborted'));
      }).on('error', () => resolve('error'));
    });
    expect(outcome).not.toBe('end');
    expect(errors.length).toBe(before + 1);
    expect(errors.at(-1)!.headersSent).toBe(true);
    expect(errors.at(-1)!.error.message).toBe('failed at chunk 3');
  });

  it('stops producing when the client does not read (backpressure), and stops the task when it leaves', async () => {
    const streamId = id();
    const req = get(`${server.url}/stream?count=20000&size=65536&id=${streamId}`, (res) => {
      res.pause();
      // Give the producer time to run ahead if nothing held it back (20000 chunks = 1.3 GB).
      setTimeout(() => req.destroy(), 400);
    });
    req.on('error', () => {});
    const report = await channel.waitFor((m) => m.id === streamId && m.finished === true);
    expect(report.aborted).toBe(true);
    // Bounded by the credit window plus what the socket buffers hold, far below 20000.
    expect(report.produced).toBeLessThan(1000);
  });

  it('streams an NDJSON route over a real socket: status and headers first, then one record per line, in order', async () => {
    const heads: { status?: number; type?: string; records?: string }[] = [];
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      get(`${server.url}/ndjson?count=50&delay=1`, (res) => {
        heads.push({
          status: res.statusCode,
          type: res.headers['content-type'],
          records: res.headers['x-records'] as string,
        });
        let rest = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          rest += text;
          const parts = rest.split('\n');
          rest = parts.pop() ?? '';
          lines.push(...parts);
        });
        res.on('end', () => (rest === '' ? resolve() : reject(new Error(`partial line ${rest}`))));
      }).on('error', reject);
    });
    expect(heads).toEqual([{ status: 200, type: 'application/x-ndjson', records: '50' }]);
    expect(lines.map((line) => JSON.parse(line))).toEqual(
      Array.from({ length: 50 }, (_, n) => ({ n, square: n * n })),
    );
  });

  it('a client that disconnects mid-NDJSON stops the generator in its thread (its finally runs)', async () => {
    const streamId = id();
    const req = get(`${server.url}/ndjson?count=1000&delay=20&id=${streamId}`, (res) => {
      let seen = 0;
      res.on('data', () => {
        if (++seen === 2) req.destroy();
      });
    });
    req.on('error', () => {});
    const report = await channel.waitFor((m) => m.id === streamId && m.finished === true);
    expect(report.produced).toBeLessThan(1000);
    // The thread is free again for the next request.
    const res = await fetchText(`${server.url}/ndjson?count=2`);
    expect(res.text.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('a streaming handler on a TaskPool without stream() gets a 500 through next(err) saying to pass stream: false', async () => {
    const before = errors.length;
    const res = await fetchText(`${server.url}/no-stream-pool?count=3`);
    expect(res.status).toBe(500);
    expect(errors.length).toBe(before + 1);
    const last = errors.at(-1)!;
    expect(last.error).toBeInstanceOf(TypeError);
    expect(last.error.message).toMatch(/cannot stream/);
    expect(last.error.message).toMatch(/stream: false/);
    // Handlers that do not stream still work there, and stream: false collects the body.
    const collected = await fetchText(`${server.url}/no-stream-pool-collected?count=2`);
    expect(collected.text).toBe('chunk 0\nchunk 1\n');
  });

  it('aborts a slow producer as soon as the client disconnects', async () => {
    const streamId = id();
    const started = Date.now();
    const req = get(`${server.url}/stream?count=100&delay=100&id=${streamId}`, (res) => {
      res.once('data', () => req.destroy());
    });
    req.on('error', () => {});
    const report = await channel.waitFor((m) => m.id === streamId && m.finished === true);
    expect(report.aborted).toBe(true);
    expect(report.produced).toBeLessThan(5);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
