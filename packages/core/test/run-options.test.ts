import { describe, expect, it } from 'vitest';
import { createPool, tasks } from './helpers.js';

/** The error `fn` throws or its promise rejects with; fails if it does neither. */
async function errorFrom(fn: () => unknown): Promise<any> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('run() options', () => {
  it.each([
    ['a string', 'double'],
    ['a number', 42],
    ['a boolean', true],
    ['null', null],
    ['an array', ['double']],
    ['an AbortSignal', new AbortController().signal],
  ])('%s instead of an options object is a TypeError naming options', async (_, options) => {
    const pool = createPool({ maxThreads: 1 });
    const error = await errorFrom(() => pool.run(1, options as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(
      /^options must be an object like \{ name: 'resize', timeout: 5000 \}/,
    );
  });

  it("run(arg, 'double') says how to call the export", async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await errorFrom(() => pool.run(1, 'double' as never));
    expect(error.message).toMatch(/To call the export "double", pass \{ name: "double" \}/);
    expect(await pool.run(1, { name: 'double' })).toBe(2);
  });

  it('an unknown key is a TypeError that lists the known ones', async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await errorFrom(() => pool.run(1, { nmae: 'double' } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(
      /options.nmae is not a run\(\) option. Known options: name, filename, priority, timeout, queueTimeout, signal, transferList/,
    );
  });

  it('an own property set to undefined counts as absent', async () => {
    const pool = createPool({ maxThreads: 1 });
    expect(await pool.run(1, { name: undefined, timeout: undefined, signal: undefined })).toBe(2);
  });

  it('a getter is read once: it cannot pass validation with one value and be used with another', async () => {
    const pool = createPool({ maxThreads: 1 });
    let reads = 0;
    const options = {
      get name() {
        reads++;
        return reads === 1 ? 'double' : 'constructor';
      },
    };
    expect(await pool.run(4, options)).toBe(8);
    expect(reads).toBe(1);
  });

  it('a polluted Object.prototype does not become a run() option', async () => {
    const pool = createPool({ maxThreads: 1 });
    await pool.run(0); // the thread is up before the prototype is polluted
    const proto = Object.prototype as Record<string, unknown>;
    proto.name = 'double';
    proto.filename = '/etc/passwd';
    proto.timeout = 1;
    proto.priority = 'high';
    try {
      expect(await pool.run(5, {})).toBe(6);
      expect(await pool.run(5)).toBe(6);
      expect(await pool.run(5, { name: 'double' })).toBe(10);
    } finally {
      delete proto.name;
      delete proto.filename;
      delete proto.timeout;
      delete proto.priority;
    }
  });

  it('queueTimeout is a duration a timer can hold, or Infinity', async () => {
    const pool = createPool({ maxThreads: 1 });
    expect(await errorFrom(() => pool.run(1, { queueTimeout: -1 }))).toBeInstanceOf(RangeError);
    const tooLong = await errorFrom(() => pool.run(1, { queueTimeout: 2 ** 31 }));
    expect(tooLong).toBeInstanceOf(RangeError);
    expect(tooLong.message).toMatch(/options.queueTimeout .*or Infinity for no limit/);
    const notANumber = await errorFrom(() => pool.run(1, { queueTimeout: '1s' as never }));
    expect(notANumber).toBeInstanceOf(TypeError);
    expect(notANumber.message).toMatch(/options.queueTimeout must be a number of milliseconds/);
    expect(await pool.run(1, { queueTimeout: Number.POSITIVE_INFINITY })).toBe(2);
  });

  it('proxy() and withOptions() validate their options the same way', async () => {
    const pool = createPool({ maxThreads: 1 });
    const timeout = await errorFrom(() =>
      (pool.proxy<typeof import('./fixtures/tasks.mjs')>({ timeout: 2 ** 31 }) as any).double(1),
    );
    expect(timeout).toBeInstanceOf(RangeError);
    expect(timeout.message).toMatch(/options.timeout/);
    const proxy = pool.proxy<typeof import('./fixtures/tasks.mjs')>({ filename: tasks });
    const bad = await errorFrom(() => proxy.double.withOptions('fast' as never)(1));
    expect(bad).toBeInstanceOf(TypeError);
    expect(bad.message).toMatch(/^options must be an object/);
    expect(await proxy.double(3)).toBe(6);
  });
});
