import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { RemotePool, serve } from '../src/index.js';
import { fixtures, tasks } from './helpers.js';

// No Redis needed: options are checked before anything connects.
describe('bad input gets an error naming the option', () => {
  it('new RemotePool() checks its options', () => {
    expect(() => new RemotePool(undefined as never)).toThrow(/expects an object/);
    expect(() => new RemotePool({ root: fixtures } as never)).toThrow(/options\.queue must be/);
    expect(() => new RemotePool({ queue: 'a:b', root: fixtures })).toThrow(/without ':'/);
    expect(() => new RemotePool({ queue: 'q' } as never)).toThrow(/options\.root must be/);
    expect(() => new RemotePool({ queue: 'q', root: 'relative/dir' })).toThrow(/relative path/);
    expect(() => new RemotePool({ queue: 'q', root: '/nonexistent/offthread' })).toThrow(
      /does not exist/,
    );
    expect(() => new RemotePool({ queue: 'q', root: fixtures, maxThreads: 2 } as never)).toThrow(
      /options\.maxThreads is not a RemotePool option/,
    );
    expect(() => new RemotePool({ queue: 'q', root: fixtures, connection: 'http://x' })).toThrow(
      /options\.connection must be a redis:\/\//,
    );
    expect(() => new RemotePool({ queue: 'q', root: fixtures, maxPayloadSize: 0 })).toThrow(
      /maxPayloadSize/,
    );
    expect(() => new RemotePool({ queue: 'q', root: fixtures, attempts: 0 })).toThrow(
      /options\.attempts/,
    );
    expect(
      () =>
        new RemotePool({
          queue: 'q',
          root: fixtures,
          backoff: { type: 'linear', delay: 1 } as never,
        }),
    ).toThrow(/options\.backoff/);
    expect(() => new RemotePool({ queue: 'q', root: fixtures, taskTimeout: 0 })).toThrow(
      /options\.taskTimeout must be > 0 ms, got 0/,
    );
    expect(() => new RemotePool({ queue: 'q', root: fixtures, queueTimeout: 2 ** 31 })).toThrow(
      /queueTimeout/,
    );
    expect(
      () => new RemotePool({ queue: 'q', root: fixtures, priorities: 'yes' as never }),
    ).toThrow(/options\.priorities must be true or false/);
  });

  it('run() rejects bad call options without enqueuing', async () => {
    const pool = new RemotePool({
      queue: 'q',
      root: fixtures,
      filename: tasks,
      connection: 'redis://127.0.0.1:1',
    });
    await expect(pool.run(1, { timeout: -1 })).rejects.toThrow(/options\.timeout/);
    // 0 is refused as a local pool refuses it (not "no limit": that is Infinity).
    await expect(pool.run(1, { timeout: 0 })).rejects.toThrow(
      /options\.timeout must be > 0 ms, got 0\. Use Infinity for no limit/,
    );
    await expect(pool.run(1, { queueTimeout: 0 })).rejects.toThrow(
      /options\.queueTimeout must be > 0/,
    );
    await expect(pool.run(1, { priority: Number.NaN })).rejects.toThrow(/options\.priority/);
    const fifo = new RemotePool({ queue: 'q', root: fixtures, filename: tasks, priorities: false });
    await expect(fifo.run(1, { priority: 5 })).rejects.toThrow(
      /created with \{ priorities: false \}.*priorities: true/,
    );
    expect(fifo.stats().queued).toBe(0);
    await fifo.destroy();
    await expect(pool.run(1, { signal: {} as never })).rejects.toThrow(/options\.signal/);
    await expect(pool.run(() => 1)).rejects.toMatchObject({ code: 'ERR_OFFTHREAD_UNCLONEABLE' });
    expect(pool.stats().queued).toBe(0);
    await pool.destroy();
    await expect(pool.run(1)).rejects.toMatchObject({ code: 'ERR_OFFTHREAD_POOL_CLOSED' });
  });

  it('connect() to an unreachable Redis rejects with ERR_OFFTHREAD_REDIS_UNAVAILABLE', async () => {
    const pool = new RemotePool({
      queue: 'q',
      root: fixtures,
      filename: tasks,
      connection: 'redis://127.0.0.1:1',
    });
    await expect(pool.connect()).rejects.toMatchObject({ code: 'ERR_OFFTHREAD_REDIS_UNAVAILABLE' });
    await expect(pool.run(1)).rejects.toMatchObject({ code: 'ERR_OFFTHREAD_REDIS_UNAVAILABLE' });
    await pool.destroy();
  });

  it('serve() checks its options', async () => {
    await expect(serve({ queue: 'q', root: fixtures } as never)).rejects.toThrow(
      /options\.pool must be/,
    );
    const pool = new Pool({ maxThreads: 1, minThreads: 0 });
    try {
      await expect(serve({ queue: 'q', root: fixtures, pool, lockDuration: 0 })).rejects.toThrow(
        /options\.lockDuration/,
      );
      await expect(
        serve({ queue: 'q', root: fixtures, pool, threads: 2 } as never),
      ).rejects.toThrow(/options\.threads is not a serve\(\) option/);
    } finally {
      await pool.destroy();
    }
  });

  it('the serve CLI names a missing or bad flag and exits with code 2', () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    const noQueue = run('serve', '--root', fixtures);
    expect(noQueue.status).toBe(2);
    expect(noQueue.stderr).toMatch(/--queue is required/);
    const badThreads = run('serve', '--queue', 'q', '--root', fixtures, '--threads', 'many');
    expect(badThreads.status).toBe(2);
    expect(badThreads.stderr).toMatch(/--threads must be a positive integer/);
    const noCommand = run('--queue', 'q');
    expect(noCommand.status).toBe(2);
    expect(noCommand.stderr).toMatch(/expected the command `serve`/);
  });
});
