import type { AddressInfo } from 'node:net';
import { offThread } from '@offthread/express';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemotePool } from '../src/index.js';
import { fixtures, RedisServer, startWorker, type WorkerProcess } from './helpers.js';

let redis: RedisServer;
let worker: WorkerProcess;
let pool: RemotePool;
let server: import('node:http').Server;
let base: string;
const queue = 'express';

beforeAll(async () => {
  redis = await RedisServer.start();
  worker = await startWorker({ redis, queue, id: 'express', threads: 1 });
  pool = new RemotePool({ queue, root: fixtures, connection: redis.url });
  const app = express();
  // offThread() takes any TaskPool; the cast covers a build of @offthread/express typed with Pool.
  const route = offThread(new URL('./fixtures/handler.mjs', import.meta.url), {
    pool: pool as never,
  });
  app.post('/sum', express.json(), route);
  const stream = offThread(new URL('./fixtures/stream-handler.mjs', import.meta.url), {
    pool: pool as never,
  });
  app.get('/lines', stream);
  await stream.ready;
  // A RemotePool has no stream(): with stream: false the body is collected on the worker.
  const collected = offThread(new URL('./fixtures/stream-handler.mjs', import.meta.url), {
    pool: pool as never,
    stream: false,
  });
  app.get('/lines-collected', collected);
  await collected.ready;
  app.use(
    (
      error: Error & { status?: number },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(error.status ?? 500).json({ message: error.message });
    },
  );
  // The start-up check (load the handler, check its default export) also runs remotely.
  await route.ready;
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await pool?.destroy();
  await worker?.stop();
  await redis?.stop();
});

describe('an Express route through a remote pool', () => {
  it('runs the handler in the worker process and answers with its result', async () => {
    const res = await fetch(`${base}/sum`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 2, b: 3 }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ sum: 5, pid: worker.proc.pid, path: '/sum' });
  });

  it('a streaming handler fails clearly: a RemotePool cannot stream, the error says to pass stream: false', async () => {
    const res = await fetch(`${base}/lines?n=4`);
    expect(res.status).toBe(500);
    const { message } = (await res.json()) as { message: string };
    expect(message).toMatch(/cannot stream/);
    expect(message).toMatch(/RemotePool/);
    expect(message).toMatch(/stream: false/);
  });

  it('with stream: false, a streamed body is collected on the worker and arrives in one piece', async () => {
    const res = await fetch(`${base}/lines-collected?n=4`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('line 1\nline 2\nline 3\nline 4\n');
  });

  it("passes the handler's error with its status to the app's error handler", async () => {
    const res = await fetch(`${base}/sum`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'x' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ message: 'a must be a number' });
  });
});
