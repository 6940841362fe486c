import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemotePool } from '../src/index.js';
import {
  fixtures,
  RedisServer,
  rejection,
  startWorker,
  tasks,
  type WorkerProcess,
  within,
} from './helpers.js';

let redis: RedisServer;
let worker: WorkerProcess;
let pool: RemotePool;
const queue = 'outage';

beforeAll(async () => {
  redis = await RedisServer.start();
  worker = await startWorker({ redis, queue, id: 'outage', threads: 1 });
  pool = new RemotePool({ queue, root: fixtures, connection: redis.url, filename: tasks });
  await pool.connect();
});

afterAll(async () => {
  await pool?.destroy();
  await worker?.stop();
  await redis?.stop();
});

describe('Redis stopped mid-run and restarted', () => {
  it('rejects calls in flight and new calls with ERR_OFFTHREAD_REDIS_UNAVAILABLE, then recovers by itself', async () => {
    expect(await pool.run(1)).toBe(2);
    const inFlight = [1, 2, 3].map(() => rejection(pool.run(3000, { name: 'sleepFor' })));
    await new Promise((r) => setTimeout(r, 300));
    await redis.stop();

    for (const error of await within(
      Promise.all(inFlight),
      10_000,
      'calls in flight when Redis stopped',
    )) {
      expect(error.code).toBe('ERR_OFFTHREAD_REDIS_UNAVAILABLE');
    }
    const meanwhile = await within(rejection(pool.run(1)), 10_000, 'a call while Redis is down');
    expect(meanwhile.code).toBe('ERR_OFFTHREAD_REDIS_UNAVAILABLE');
    expect(pool.stats().remote.connected).toBe(false);

    await redis.restart();
    const recovered = await within(
      (async () => {
        for (;;) {
          try {
            return await pool.run(20);
          } catch (error) {
            if ((error as { code?: string }).code !== 'ERR_OFFTHREAD_REDIS_UNAVAILABLE')
              throw error;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      })(),
      60_000,
      'recovery after Redis restarted',
    );
    expect(recovered).toBe(40);
    expect(pool.stats().remote.connected).toBe(true);
  });
});
