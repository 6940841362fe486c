import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isOffThreadError,
  OffThreadError,
  registerError as registerCoreError,
  transfer,
} from '@offthread/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemotePool, registerError } from '../src/index.js';
import {
  fixtures,
  RedisServer,
  rejection,
  settle,
  startWorker,
  tasks,
  type WorkerProcess,
  within,
} from './helpers.js';

let redis: RedisServer;
let workers: WorkerProcess[] = [];
let pool: RemotePool;
const queue = 'remote';

beforeAll(async () => {
  redis = await RedisServer.start();
  workers = await Promise.all([
    startWorker({ redis, queue, id: 'w1' }),
    startWorker({ redis, queue, id: 'w2' }),
  ]);
  pool = new RemotePool({ queue, root: fixtures, connection: redis.url, filename: tasks });
  await pool.connect();
});

afterAll(async () => {
  await pool?.destroy();
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
});

describe('RemotePool with two worker processes', () => {
  it('runs 1,000 tasks on both workers, each exactly once, all results right', async () => {
    const n = 1000;
    const results = await within(
      Promise.all(Array.from({ length: n }, (_, i) => pool.run({ i }, { name: 'record' }))),
      90_000,
      '1,000 remote tasks',
    );
    results.forEach((r, i) => {
      expect(r.i).toBe(i);
      expect(r.double).toBe(i * 2);
    });
    const pids = new Set(results.map((r) => r.pid));
    expect(pids).toEqual(new Set(workers.map((w) => w.proc.pid)));
    const executions = workers.flatMap((w) =>
      readFileSync(w.countFile, 'utf8').trim().split('\n').map(Number),
    );
    expect(executions.length).toBe(n);
    expect(new Set(executions).size).toBe(n);
  });

  it('calls made while the first connection is being made wait for it', async () => {
    const fresh = new RemotePool({ queue, root: fixtures, connection: redis.url, filename: tasks });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => fresh.run(i)));
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    } finally {
      await fresh.destroy();
    }
  });

  it('keeps v8-serializable types: Dates, Maps, typed arrays, BigInt', async () => {
    const value = {
      at: new Date(0),
      map: new Map([[1, 'a']]),
      bytes: new Uint8Array([1, 2]),
      big: 10n,
    };
    expect(await pool.run(value, { name: 'echo' })).toEqual(value);
  });

  it('proxy() spreads the arguments, as a local pool does', async () => {
    const tasksProxy = pool.proxy<{ add(a: number, b: number): number }>();
    expect(await tasksProxy.add(2, 3)).toBe(5);
    expect(await tasksProxy.add.withOptions({ timeout: 5000 })(4, 5)).toBe(9);
  });

  it('transfer() becomes a copy: the caller keeps its buffer', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(await pool.run(transfer(bytes), { name: 'echo' })).toEqual(new Uint8Array([1, 2, 3]));
    expect(bytes.byteLength).toBe(3);
  });

  it('preload() has a worker load the module and check the exports', async () => {
    await pool.preload({ names: ['default', 'echo'] });
    const missing = await rejection(pool.preload({ names: ['nope'] }));
    expect(missing.code).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
  });

  it('loads TypeScript task modules on the worker', async () => {
    expect(await pool.run({ x: 3, y: 4 }, { filename: join(fixtures, 'typed.ts') })).toBe(5);
  });

  it("onProgress receives the task's currentTask().progress() reports from the worker, in order", async () => {
    const reports: unknown[] = [];
    const result = await within(
      pool.run({ steps: 4 }, { name: 'withProgress', onProgress: (value) => reports.push(value) }),
      30_000,
      'a task reporting progress',
    );
    expect(result).toBe(4);
    // BullMQ delivers each report through the queue's event stream before the completion.
    expect(reports).toEqual([1, 2, 3, 4].map((i) => ({ step: i, of: 4, at: new Date(i) })));
  });

  it('onProgress is checked: a non-function is refused before anything is enqueued', async () => {
    const r = await rejection(
      pool.run(1, { onProgress: 'yes' as unknown as (value: unknown) => void }),
    );
    expect(r).toBeInstanceOf(TypeError);
    expect(r.message).toMatch(/options\.onProgress must be a function/);
  });

  it('a thrown error keeps its class and properties', async () => {
    class ValidationError extends Error {}
    registerError(ValidationError);
    const r = await rejection(pool.run('email', { name: 'invalid' }));
    const error = r;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.name).toBe('ValidationError');
    expect(error.message).toBe('email is invalid');
    expect(error.field).toBe('email');
    expect(error.code).toBe('E_VALIDATION');
    expect(error.status).toBe(422);
  });

  it("a class registered with the core's registerError crosses with class, properties and cause", async () => {
    class QuotaError extends Error {}
    registerCoreError(QuotaError);
    const error = await rejection(pool.run(5, { name: 'overQuota' }));
    expect(error).toBeInstanceOf(QuotaError);
    expect(error.name).toBe('QuotaError');
    expect(error.message).toBe('over the quota of 5');
    expect(error.limit).toBe(5);
    expect(error.cause).toBeInstanceOf(RangeError);
    expect((error.cause as Error).message).toBe('too many calls');
  });

  it('a timeout stops a running task with ERR_OFFTHREAD_TIMEOUT, and the worker goes on', async () => {
    const r = await rejection(pool.run(60_000, { name: 'spin', timeout: 300 }));
    expect(r).toBeInstanceOf(OffThreadError);
    expect(r.code).toBe('ERR_OFFTHREAD_TIMEOUT');
    expect(await pool.run(21)).toBe(42);
  });

  it('abort of a running task rejects with ERR_OFFTHREAD_ABORTED and fires its thread signal', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'offthread-abort-')), 'marker');
    const controller = new AbortController();
    const running = rejection(
      pool.run({ marker }, { name: 'waitForAbort', signal: controller.signal }),
    );
    await within(
      (async () => {
        while (!existsSync(`${marker}.started`)) await new Promise((r) => setTimeout(r, 20));
      })(),
      30_000,
      'task start',
    );
    controller.abort(new Error('user left'));
    const r = await within(running, 10_000, 'aborted call');
    expect(r.code).toBe('ERR_OFFTHREAD_ABORTED');
    await within(
      (async () => {
        while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 20));
      })(),
      10_000,
      "the remote thread's signal",
    );
    expect(readFileSync(marker, 'utf8')).toBe('aborted');
  });

  it('abort of a waiting task removes it from the queue unrun', async () => {
    // Fill every worker slot (2 workers x concurrency 4) with sleepers, then queue one more.
    const busy = Array.from({ length: 8 }, () => pool.run(1500, { name: 'sleepFor' }));
    const controller = new AbortController();
    const marker = join(mkdtempSync(join(tmpdir(), 'offthread-abort-')), 'marker');
    const waiting = rejection(
      pool.run({ marker }, { name: 'waitForAbort', signal: controller.signal, priority: -1 }),
    );
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    const r = await within(waiting, 10_000, 'aborted waiting call');
    expect(r.code).toBe('ERR_OFFTHREAD_ABORTED');
    await Promise.all(busy);
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(`${marker}.started`)).toBe(false);
  });

  it('queueTimeout removes a task that waited too long with ERR_OFFTHREAD_QUEUE_TIMEOUT', async () => {
    const busy = Array.from({ length: 8 }, () => pool.run(1500, { name: 'sleepFor' }));
    const r = await rejection(pool.run(1, { queueTimeout: 200, priority: -1 }));
    expect(r.code).toBe('ERR_OFFTHREAD_QUEUE_TIMEOUT');
    await Promise.all(busy);
  });

  it('higher priority runs first, as with a local pool', async () => {
    // More busy jobs (12) than the two workers take at once (2 x concurrency 4): some stay
    // waiting in Redis, so a worker slot that frees up early takes one of them (priority 0
    // beats -5), never 'low' before 'high' has even been enqueued.
    const busy = Array.from({ length: 12 }, () => pool.run(800, { name: 'sleepFor' }));
    await new Promise((r) => setTimeout(r, 200));
    const order: string[] = [];
    const low = pool.run(1, { priority: -5 }).then(() => order.push('low'));
    const high = pool.run(1, { priority: 5 }).then(() => order.push('high'));
    await Promise.all([low, high, ...busy]);
    expect(order[0]).toBe('high');
  });

  it("priorities: false puts jobs on BullMQ's FIFO wait list; the default orders them by priority", async () => {
    // A queue no worker serves, so the jobs stay where they were added.
    const idle = 'no-workers';
    const fifo = new RemotePool({
      queue: idle,
      root: fixtures,
      connection: redis.url,
      filename: tasks,
      priorities: false,
    });
    const ordered = new RemotePool({
      queue: idle,
      root: fixtures,
      connection: redis.url,
      filename: tasks,
    });
    const client = new Redis(redis.url);
    try {
      const pending = [settle(fifo.run(1)), settle(fifo.run(2))];
      await new Promise((r) => setTimeout(r, 300));
      expect(await client.llen(`bull:${idle}:wait`)).toBe(2);
      expect(await client.zcard(`bull:${idle}:prioritized`)).toBe(0);
      pending.push(settle(ordered.run(3)));
      await new Promise((r) => setTimeout(r, 300));
      expect(await client.zcard(`bull:${idle}:prioritized`)).toBe(1);
      await Promise.all([fifo.destroy(), ordered.destroy()]);
      for (const outcome of await Promise.all(pending)) {
        expect(outcome.ok ? outcome.value : outcome.error).toMatchObject({
          code: 'ERR_OFFTHREAD_POOL_CLOSED',
        });
      }
      expect(await client.llen(`bull:${idle}:wait`)).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it("workers publish each result on its caller's channel, and results still come when that subscription is cut", async () => {
    const listener = new Redis(redis.url);
    const admin = new Redis(redis.url);
    try {
      const early: string[] = [];
      await listener.psubscribe(`bull:${queue}:offthread:result:*`);
      listener.on('pmessage', (_pattern: string, _channel: string, message: string) => {
        early.push(message.slice(0, message.indexOf(' ')));
      });
      expect(await Promise.all(Array.from({ length: 5 }, (_, i) => pool.run(i)))).toEqual([
        0, 2, 4, 6, 8,
      ]);
      await within(
        (async () => {
          while (early.length < 5) await new Promise((r) => setTimeout(r, 20));
        })(),
        5000,
        'five early results',
      );
      // Calls with progress reports get their result from the event stream only, after the
      // reports (which travel there).
      const before = early.length;
      const seen: unknown[] = [];
      await pool.run({ steps: 3 }, { name: 'withProgress', onProgress: (v) => seen.push(v) });
      expect(seen.length).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 200));
      expect(early.length).toBe(before);
      // Cut every pub/sub connection (the pool's own included): results arrive through the
      // event stream meanwhile, none is lost.
      await admin.client('KILL', 'TYPE', 'pubsub');
      const results = await within(
        Promise.all(Array.from({ length: 30 }, (_, i) => pool.run(i))),
        20_000,
        'results while the result channel is down',
      );
      expect(results).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
    } finally {
      listener.disconnect();
      admin.disconnect();
    }
  });

  it('stats() shows the queue and each worker with its threads', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const stats = pool.stats();
    expect(stats.remote.connected).toBe(true);
    expect(stats.remote.workers.map((w) => w.id).sort()).toEqual(['w1', 'w2']);
    for (const w of stats.remote.workers) expect(w.maxThreads).toBe(2);
    expect(stats.remote.waiting).toBe(0);
    expect(stats.completed).toBeGreaterThan(1000);
  });

  it('a call whose job vanished from Redis without an event fails with ERR_OFFTHREAD_RESULT_LOST', async () => {
    const lost = new RemotePool({ queue, root: fixtures, connection: redis.url, filename: tasks });
    const marker = join(mkdtempSync(join(tmpdir(), 'offthread-lost-')), 'marker');
    const call = rejection(lost.run({ marker }, { name: 'waitForAbort' }));
    await within(
      (async () => {
        while (!existsSync(`${marker}.started`)) await new Promise((r) => setTimeout(r, 20));
      })(),
      30_000,
      'task start',
    );
    // What a caller far behind the trimmed event stream sees: the job is gone, no event came.
    const client = new Redis(redis.port, '127.0.0.1');
    const active = await client.lrange(`bull:${queue}:active`, 0, -1);
    for (const id of active) {
      if (id.startsWith((lost as unknown as { id: string }).id)) {
        await client
          .multi()
          .lrem(`bull:${queue}:active`, 0, id)
          .del(`bull:${queue}:${id}`, `bull:${queue}:${id}:lock`)
          .exec();
      }
    }
    client.disconnect();
    const error = await within(call, 60_000, 'the lost call');
    expect(error.code).toBe('ERR_OFFTHREAD_RESULT_LOST');
    await lost.destroy();
  });

  it('close() lets calls in flight finish, then refuses new ones', async () => {
    const closing = new RemotePool({
      queue,
      root: fixtures,
      connection: redis.url,
      filename: tasks,
    });
    const inFlight = closing.run(300, { name: 'sleepFor' });
    await new Promise((r) => setTimeout(r, 50));
    const closed = closing.close();
    expect((await rejection(closing.run(1))).code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    expect(await inFlight).toBe(300);
    await within(closed, 10_000, 'close()');
  });

  it('destroy() rejects calls in flight with ERR_OFFTHREAD_POOL_CLOSED and cancels running ones', async () => {
    const doomed = new RemotePool({
      queue,
      root: fixtures,
      connection: redis.url,
      filename: tasks,
    });
    const marker = join(mkdtempSync(join(tmpdir(), 'offthread-destroy-')), 'marker');
    const call = rejection(doomed.run({ marker }, { name: 'waitForAbort' }));
    await within(
      (async () => {
        while (!existsSync(`${marker}.started`)) await new Promise((r) => setTimeout(r, 20));
      })(),
      30_000,
      'task start',
    );
    await within(doomed.destroy(), 10_000, 'destroy()');
    expect((await call).code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    await within(
      (async () => {
        while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 20));
      })(),
      10_000,
      "the remote thread's signal",
    );
  });

  it('a payload above maxPayloadSize rejects before anything is enqueued', async () => {
    const small = new RemotePool({
      queue,
      root: fixtures,
      connection: redis.url,
      filename: tasks,
      maxPayloadSize: 1024,
    });
    try {
      const r = await rejection(small.run(new Uint8Array(4096), { name: 'echo' }));
      expect(r.code).toBe('ERR_OFFTHREAD_PAYLOAD_TOO_LARGE');
      expect(small.stats().queued).toBe(0);
    } finally {
      await small.destroy();
    }
  });

  it('a task module outside root is refused on the caller', async () => {
    const r = await rejection(pool.run(1, { filename: new URL('./helpers.ts', import.meta.url) }));
    expect(isOffThreadError(r)).toBe(true);
    expect(r.code).toBe('ERR_OFFTHREAD_OUTSIDE_ROOT');
  });
});
