import { Pool } from '@offthread/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultOffThreadOptions,
  defaultUnderPressureOptions,
  offThread,
  underPressure,
} from '../src/index.js';
import { fixture } from './helpers.js';

describe('option validation', () => {
  const pool = new Pool({ minThreads: 0, maxThreads: 1 });
  afterAll(() => pool.destroy());
  const handler = fixture('echo.mjs');

  it('offThread() rejects options that are not an object', () => {
    expect(() => offThread(handler, null as never)).toThrow(
      /^offThread\(\) options must be an object, got null/,
    );
    expect(() => offThread(handler, 'fast' as never)).toThrow(TypeError);
  });

  it.each([
    [
      { timout: 5 },
      TypeError,
      /offThread\(\) options\.timout is not an option\. Known options: pool, timeout/,
    ],
    [{ pool: {} }, TypeError, /options\.pool must be a Pool/],
    [{ timeout: '5s' }, TypeError, /options\.timeout must be a number of milliseconds .*got "5s"/],
    [
      { timeout: 0 },
      RangeError,
      /options\.timeout must be > 0 ms, got 0\. Use Infinity for no limit/,
    ],
    [{ timeout: 2 ** 31 }, RangeError, /options\.timeout must be .* <= 2147483647/],
    [{ queueTimeout: 0 }, RangeError, /options\.queueTimeout must be > 0 ms, got 0\. Use Infinity/],
    [{ queueTimeout: -5 }, RangeError, /options\.queueTimeout/],
    [
      { locals: 'user' },
      TypeError,
      /options\.locals must be an array of res\.locals keys or a function/,
    ],
    [{ locals: [1] }, TypeError, /options\.locals/],
    [{ stream: 'yes' }, TypeError, /options\.stream must be true or false/],
    [{ respondToOverload: 1 }, TypeError, /options\.respondToOverload must be true or false/],
    [{ retryAfter: 1.5 }, TypeError, /options\.retryAfter must be a whole number of seconds/],
    [{ retryAfter: -1 }, RangeError, /options\.retryAfter must be a whole number of seconds >= 0/],
    [{ priority: Number.NaN }, TypeError, /options\.priority must be a finite number/],
  ])('offThread() rejects %o', (options, ErrorClass, message) => {
    expect(() => offThread(handler, { pool, ...options } as never)).toThrow(ErrorClass);
    expect(() => offThread(handler, { pool, ...options } as never)).toThrow(message);
  });

  it('accepts Infinity for no limit, as the core does', () => {
    const route = offThread(handler, {
      pool,
      timeout: Number.POSITIVE_INFINITY,
      queueTimeout: Number.POSITIVE_INFINITY,
    });
    expect(typeof route).toBe('function');
  });

  it('documents its defaults', () => {
    expect(defaultOffThreadOptions).toEqual({
      timeout: undefined,
      queueTimeout: 10_000,
      stream: true,
      retryAfter: 1,
      respondToOverload: true,
      priority: 0,
    });
    expect(defaultUnderPressureOptions).toEqual({ sampleInterval: 1000, retryAfter: 10 });
  });

  it.each([
    [
      { maxEventLoopDelay: -1 },
      RangeError,
      /options\.maxEventLoopDelay must be a finite number > 0/,
    ],
    [{ maxEventLoopDelay: '100' }, TypeError, /options\.maxEventLoopDelay must be a number/],
    [
      { maxEventLoopUtilization: 1.5 },
      RangeError,
      /options\.maxEventLoopUtilization must be a share between 0 and 1/,
    ],
    [{ maxHeapUsedBytes: 0 }, RangeError, /options\.maxHeapUsedBytes/],
    [{ maxRssBytes: Number.POSITIVE_INFINITY }, RangeError, /options\.maxRssBytes/],
    [{ maxPoolQueue: 1.5 }, TypeError, /options\.maxPoolQueue must be a whole number/],
    [{ maxPoolQueue: -1 }, RangeError, /options\.maxPoolQueue must be >= 0/],
    [{ maxThreadpoolQueueWait: 'x' }, TypeError, /options\.maxThreadpoolQueueWait/],
    [{ sampleInterval: 5 }, RangeError, /options\.sampleInterval must be at least 10 ms/],
    [{ retryAfter: 2.5 }, TypeError, /options\.retryAfter must be a whole number of seconds/],
    [{ pool: 1 }, TypeError, /options\.pool must be a Pool/],
    [{ monitor: {} }, TypeError, /options\.monitor must be a Monitor/],
    [{ pressureHandler: 'x' }, TypeError, /options\.pressureHandler must be a function/],
    [{ healthCheck: true }, TypeError, /options\.healthCheck must be a function/],
    [{ healthCheckInterval: 0 }, RangeError, /options\.healthCheckInterval/],
    [
      { statusRoute: 'status' },
      TypeError,
      /options\.statusRoute must be a path starting with '\/'/,
    ],
    [{ maxDelay: 1 }, TypeError, /options\.maxDelay is not an underPressure\(\) option/],
  ])('underPressure() rejects %o', (options, ErrorClass, message) => {
    expect(() => underPressure(options as never)).toThrow(ErrorClass);
    expect(() => underPressure(options as never)).toThrow(message);
  });
});
