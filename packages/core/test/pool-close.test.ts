import { Pool } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, rejectionOf, tasks } from './helpers.js';

describe('close and destroy', () => {
  it('close() finishes running and queued tasks, then stops the threads', async () => {
    const pool = new Pool({ filename: tasks, minThreads: 1, maxThreads: 1 });
    const results = [pool.run(50, { name: 'busy' }), pool.run(1), pool.run(2)];
    const closed = pool.close();
    expect((await rejectionOf(pool.run(3))).code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    await closed;
    expect((await Promise.all(results)).slice(1)).toEqual([2, 3]);
    expect(pool.stats().threads).toBe(0);
  });

  it('destroy() rejects every pending task with ERR_OFFTHREAD_POOL_CLOSED', async () => {
    const pool = new Pool({ filename: tasks, minThreads: 1, maxThreads: 1 });
    const running = rejectionOf(pool.run(5_000, { name: 'busy' }));
    const queued = rejectionOf(pool.run(1));
    await new Promise((r) => setTimeout(r, 50));
    await pool.destroy();
    expect((await running).code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    expect((await queued).code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
    expect(pool.stats().threads).toBe(0);
  });

  it('close({ timeout }) destroys what has not finished in time', async () => {
    const pool = new Pool({ filename: tasks, minThreads: 1, maxThreads: 1 });
    const running = rejectionOf(pool.run(5_000, { name: 'busy' }));
    await new Promise((r) => setTimeout(r, 50));
    await pool.close({ timeout: 100 });
    expect((await running).code).toBe('ERR_OFFTHREAD_POOL_CLOSED');
  });

  it('idle threads above minThreads are stopped after idleTimeout', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 2, idleTimeout: 100 });
    await Promise.all([pool.run(50, { name: 'busy' }), pool.run(50, { name: 'busy' })]);
    expect(pool.stats().threads).toBe(2);
    const deadline = Date.now() + 5_000;
    while (pool.stats().threads > 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    expect(pool.stats().threads).toBe(1);
  });

  it('an idle pool does not keep the process alive', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `
      import { Pool } from '@offthread/core';
      const pool = new Pool({ filename: ${JSON.stringify(tasks.href)} });
      console.log(await pool.run(1));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url),
      timeout: 10_000,
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('2');
  });
});

describe('onThreadClose', () => {
  it('runs its hooks (async too) when the pool closes', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'offthread-close-')), 'log.txt');
    const pool = new Pool({ filename: tasks, minThreads: 1, maxThreads: 1 });
    const threadId = await pool.run(file, { name: 'registerCloseHook' });
    await pool.close();
    expect(readFileSync(file, 'utf8')).toBe(`closed ${threadId}\n`);
  });
});
