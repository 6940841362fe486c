import { Pool } from '@offthread/core';
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

const tooLong = 2 ** 31;

describe('durations a timer cannot hold', () => {
  it.each(['taskTimeout', 'idleTimeout', 'abortGracePeriod', 'queueTimeout'])(
    'options.%s above 2^31-1 ms is a RangeError, not a 1 ms timer',
    (option) => {
      expect(() => new Pool({ filename: tasks, [option]: tooLong })).toThrow(RangeError);
      expect(() => new Pool({ filename: tasks, [option]: tooLong })).toThrow(
        new RegExp(`options.${option} must be a number of milliseconds from 0 to 2147483647`),
      );
    },
  );

  it('the RangeError says to use Infinity where no limit is allowed', () => {
    expect(() => new Pool({ filename: tasks, taskTimeout: tooLong })).toThrow(
      /or Infinity for no limit/,
    );
  });

  it('Infinity means no limit for taskTimeout, idleTimeout and queueTimeout', async () => {
    const pool = createPool({
      maxThreads: 1,
      taskTimeout: Number.POSITIVE_INFINITY,
      idleTimeout: Number.POSITIVE_INFINITY,
      queueTimeout: Number.POSITIVE_INFINITY,
    });
    expect(pool.options.queueTimeout).toBe(Number.POSITIVE_INFINITY);
    expect(await pool.run(1)).toBe(2);
  });

  // 0 meant "time every task out" for taskTimeout but "no limit" for run({ timeout }) (a quick
  // task raced a 0 ms timer), and queueTimeout: 0 failed even an idle pool's first task.
  it.each(['taskTimeout', 'queueTimeout'])(
    'options.%s of 0 is a RangeError that says to use Infinity, as in the adapters',
    (option) => {
      expect(() => new Pool({ filename: tasks, [option]: 0 })).toThrow(
        new RegExp(`options.${option} must be > 0 ms, got 0. Use Infinity for no limit`),
      );
    },
  );

  it.each(['timeout', 'queueTimeout'])(
    'run(), stream() and broadcast() refuse a %s of 0 the same way, and run nothing',
    async (option) => {
      const pool = createPool({ maxThreads: 1 });
      const error = await errorFrom(() => pool.run(1, { [option]: 0 }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(new RegExp(`options.${option} must be > 0 ms, got 0`));
      const stream = pool.stream(1, { name: 'rows', [option]: 0 });
      expect((await errorFrom(() => stream.next())).message).toMatch(/must be > 0 ms/);
      if (option === 'timeout') {
        const broadcast = await errorFrom(() => pool.broadcast(1, { timeout: 0 }));
        expect(broadcast.message).toMatch(/options.timeout must be > 0 ms/);
      }
      expect(pool.stats().completed).toBe(0);
      expect(await pool.run(1)).toBe(2);
    },
  );

  it('idleTimeout, abortGracePeriod and close({ timeout }) keep 0: exit idle threads at once, terminate at once, destroy what is left', async () => {
    const pool = createPool({ maxThreads: 1, idleTimeout: 0, abortGracePeriod: 0 });
    expect(await pool.run(1)).toBe(2);
    await pool.close({ timeout: 0 });
  });

  it('a run() timeout above 2^31-1 ms is rejected, not turned into an immediate timeout', async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await errorFrom(() => pool.run(20, { name: 'sleep', timeout: tooLong }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/options.timeout .*or Infinity for no limit/);
    expect(await pool.run(20, { name: 'sleep', timeout: 2 ** 31 - 1 })).toBe(20);
  });

  it('close({ timeout }) above 2^31-1 ms is rejected and queued work is not destroyed', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1 });
    const running = pool.run(100, { name: 'sleep' });
    const queued = pool.run(1);
    const error = await errorFrom(() => pool.close({ timeout: tooLong }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/options.timeout/);
    expect(await running).toBe(100);
    expect(await queued).toBe(2);
  });
});

describe('resourceLimits', () => {
  it.each([
    [
      { maxOldGenerationSizeMb: -5 },
      RangeError,
      /resourceLimits.maxOldGenerationSizeMb must be a positive/,
    ],
    [
      { maxOldGenerationSizeMb: 'lots' },
      TypeError,
      /resourceLimits.maxOldGenerationSizeMb must be a number of megabytes, got "lots"/,
    ],
    [{ stackSizeMb: Number.NaN }, TypeError, /resourceLimits.stackSizeMb/],
    [{ codeRangeSizeMb: Number.POSITIVE_INFINITY }, RangeError, /resourceLimits.codeRangeSizeMb/],
    [{ maxYoungGenerationSizeMb: 0 }, RangeError, /resourceLimits.maxYoungGenerationSizeMb/],
    [
      { maxOldSizeMb: 64 },
      TypeError,
      /resourceLimits.maxOldSizeMb is not a resource limit. Known options: maxOldGenerationSizeMb, maxYoungGenerationSizeMb, codeRangeSizeMb, stackSizeMb/,
    ],
    [[64], TypeError, /options.resourceLimits must be an object/],
  ])('%j is rejected at construction', (resourceLimits, ErrorClass, message) => {
    const make = () => new Pool({ filename: tasks, minThreads: 0, resourceLimits } as never);
    expect(make).toThrow(ErrorClass);
    expect(make).toThrow(message);
  });

  it('valid limits reach the threads', async () => {
    const pool = createPool({
      maxThreads: 1,
      resourceLimits: { maxOldGenerationSizeMb: 64, stackSizeMb: 4 },
    });
    expect(pool.options.resourceLimits).toEqual({ maxOldGenerationSizeMb: 64, stackSizeMb: 4 });
    expect(await pool.run(1)).toBe(2);
  });
});

describe('what threads are started with is checked at construction', () => {
  it('a function in workerData is a TypeError naming options.workerData, even with lazy threads', () => {
    const make = () =>
      new Pool({ filename: tasks, minThreads: 0, workerData: { transform: () => 1 } });
    expect(make).toThrow(TypeError);
    expect(make).toThrow(/options.workerData must be a value worker threads can copy/);
  });

  it('a Symbol in env is a TypeError naming the variable', () => {
    const make = () =>
      new Pool({
        filename: tasks,
        minThreads: 0,
        env: { PATH: '/bin', SECRET: Symbol('s') as never },
      });
    expect(make).toThrow(TypeError);
    expect(make).toThrow(/options.env.SECRET must be a string .*got Symbol\(s\)/);
    expect(
      () => new Pool({ filename: tasks, minThreads: 0, env: { PORT: 8080 as never } }),
    ).toThrow(/options.env.PORT must be a string/);
  });

  it('an env variable set to undefined is left out of the thread environment', async () => {
    const pool = createPool({ maxThreads: 1, env: { KEPT: 'yes', DROPPED: undefined } });
    expect(await pool.run('KEPT', { name: 'env' })).toBe('yes');
    expect(await pool.run('DROPPED', { name: 'env' })).toBeUndefined();
  });

  it('execArgv must be an array of strings; the message names the bad element', () => {
    expect(
      () => new Pool({ filename: tasks, execArgv: ['--enable-source-maps', 5 as never] }),
    ).toThrow(/options.execArgv must be an array of strings.*options.execArgv\[1\] is 5/);
    expect(() => new Pool({ filename: tasks, execArgv: '--inspect' as never })).toThrow(
      /options.execArgv must be an array of strings/,
    );
  });
});

describe('options are read once, from own properties', () => {
  it('a getter cannot pass validation with one value and be used with another', () => {
    let reads = 0;
    const options = {
      filename: tasks,
      minThreads: 0,
      get maxThreads() {
        reads++;
        return reads === 1 ? 2 : 0;
      },
    };
    const pool = new Pool(options);
    try {
      expect(pool.options.maxThreads).toBe(2);
      expect(reads).toBe(1);
    } finally {
      void pool.destroy();
    }
  });

  it("later changes to the caller's env and execArgv objects do not reach the pool", () => {
    const env: Record<string, string> = { A: '1' };
    const execArgv = ['--enable-source-maps'];
    const pool = new Pool({ filename: tasks, minThreads: 0, env, execArgv });
    try {
      env.A = '2';
      execArgv.push('--no-such-flag');
      expect(pool.options.env).toEqual({ A: '1' });
      expect(pool.options.execArgv).toEqual(['--enable-source-maps']);
    } finally {
      void pool.destroy();
    }
  });

  it('a polluted Object.prototype does not become a pool option', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.execArgv = ['--no-such-flag'];
    proto.env = { POLLUTED: 'yes' };
    proto.filename = '/etc/passwd';
    proto.maxThreads = 0;
    try {
      const unnamed = new Pool({ minThreads: 0 });
      expect(unnamed.options.filename).toBeUndefined();
      void unnamed.destroy();
      const pool = createPool({ maxThreads: 1 });
      expect(pool.options.execArgv).toBeUndefined();
      expect(pool.options.env).toBeUndefined();
      expect(pool.options.maxThreads).toBe(1);
      expect(await pool.run(1)).toBe(2);
    } finally {
      delete proto.execArgv;
      delete proto.env;
      delete proto.filename;
      delete proto.maxThreads;
    }
  });

  it('an unknown option names itself and lists the known ones', () => {
    expect(() => new Pool({ filename: tasks, maxThread: 2 } as never)).toThrow(
      /options.maxThread is not a Pool option. Known options: filename, minThreads, maxThreads, idleTimeout, queueTimeout/,
    );
  });

  it('queueTimeout is validated like the other durations', () => {
    expect(() => new Pool({ filename: tasks, queueTimeout: -1 })).toThrow(RangeError);
    expect(() => new Pool({ filename: tasks, queueTimeout: '5s' as never })).toThrow(
      /options.queueTimeout must be a number of milliseconds, got "5s"/,
    );
    expect(createPool({ queueTimeout: 10 }).options.queueTimeout).toBe(10);
  });
});
