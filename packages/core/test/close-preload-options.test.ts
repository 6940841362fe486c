import { describe, expect, it } from 'vitest';
import { createPool } from './helpers.js';

/** The error `fn` throws or its promise rejects with; fails if it does neither. */
async function errorFrom(fn: () => unknown): Promise<any> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('close() and preload() options', () => {
  it('a polluted Object.prototype.timeout does not give close({}) a deadline', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1 });
    const running = pool.run(200, { name: 'sleep' });
    const proto = Object.prototype as Record<string, unknown>;
    proto.timeout = 1;
    let closed: Promise<void>;
    try {
      closed = pool.close({});
    } finally {
      delete proto.timeout;
    }
    expect(await running).toBe(200);
    await closed;
  });

  it('a timeout getter is read once', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1 });
    const running = pool.run(200, { name: 'sleep' });
    let reads = 0;
    await pool.close({
      get timeout() {
        reads++;
        return reads === 1 ? 60_000 : 1;
      },
    });
    expect(await running).toBe(200);
    expect(reads).toBe(1);
  });

  it('close() with a non-object or an unknown key is a TypeError naming options', async () => {
    const pool = createPool({ maxThreads: 1 });
    expect((await errorFrom(() => pool.close(5000 as never))).message).toMatch(
      /^options must be an object like \{ timeout: 10000 \}/,
    );
    expect((await errorFrom(() => pool.close({ timout: 5 } as never))).message).toMatch(
      /options.timout is not a close\(\) option/,
    );
  });

  it('preload() checks its names and reads its options once', async () => {
    const pool = createPool({ maxThreads: 1 });
    expect((await errorFrom(() => pool.preload({ names: 'double' as never }))).message).toMatch(
      /options.names must be an array of export names/,
    );
    expect((await errorFrom(() => pool.preload({ names: ['double', ''] }))).message).toMatch(
      /options.names\[1\] must be an export name/,
    );
    const proto = Object.prototype as Record<string, unknown>;
    proto.names = ['noSuchExport'];
    try {
      await pool.preload({});
    } finally {
      delete proto.names;
    }
    await pool.preload({ names: ['default', 'double'] });
  });
});
