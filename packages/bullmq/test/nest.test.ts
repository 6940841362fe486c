import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemotePool } from '../src/index.js';
import { fixtures, RedisServer, startWorker, type WorkerProcess } from './helpers.js';

const require = createRequire(import.meta.url);
let redis: RedisServer;
let worker: WorkerProcess;
let pool: RemotePool;
let app: { close(): Promise<void> };
let url: string;
const queue = 'nest';

beforeAll(async () => {
  redis = await RedisServer.start();
  worker = await startWorker({ redis, queue, id: 'nest', threads: 1 });
  pool = new RemotePool({ queue, root: fixtures, connection: redis.url });
  // CommonJS fixtures with decorators applied by hand: the worker threads load the same files.
  const { createApp } = require('./fixtures/nest/app.cjs');
  ({ app, url } = await createApp(pool));
});

afterAll(async () => {
  await app?.close();
  await pool?.destroy();
  await worker?.stop();
  await redis?.stop();
});

describe('the Nest adapter on a remote pool', () => {
  it('runs an @OffThread() method in the worker process, with DI there', async () => {
    const res = await fetch(`${url}/reports/7`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; pid: number; threadId: number };
    expect(body.id).toBe('7');
    expect(body.pid).toBe(worker.proc.pid);
    expect(body.threadId).toBeGreaterThan(0);
  });

  it('an HttpException thrown on the worker machine answers with its status and body', async () => {
    const res = await fetch(`${url}/reports/missing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      message: 'report missing not found',
      error: 'Not Found',
      statusCode: 404,
    });
  });
});
