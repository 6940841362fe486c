import { pathToFileURL } from 'node:url';
import {
  checkDurationOption,
  checkRetryAfterOption,
  readOptionBag,
  resolveModulePath,
} from '@offthread/core/adapter';
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';

describe('shared option rules', () => {
  it('rejects a 0 ms duration and says to use Infinity for no limit', () => {
    expect(() => checkDurationOption(0, 'offThread() options.timeout')).toThrow(RangeError);
    expect(() => checkDurationOption(0, 'offThread() options.timeout')).toThrow(
      'offThread() options.timeout must be > 0 ms, got 0. Use Infinity for no limit.',
    );
  });

  it('accepts Infinity and rejects what a timer cannot hold', () => {
    expect(checkDurationOption(Number.POSITIVE_INFINITY, 'x')).toBe(Number.POSITIVE_INFINITY);
    expect(checkDurationOption(2 ** 31 - 1, 'x')).toBe(2 ** 31 - 1);
    expect(() => checkDurationOption(2 ** 31, 'options.queueTimeout')).toThrow(
      /options.queueTimeout.*<= 2147483647/,
    );
    expect(() => checkDurationOption(-1, 'x')).toThrow(RangeError);
    expect(() => checkDurationOption('5000', 'options.timeout')).toThrow(TypeError);
    expect(() => checkDurationOption(Number.NaN, 'options.timeout')).toThrow(TypeError);
  });

  it('checks Retry-After seconds', () => {
    expect(checkRetryAfterOption(0, 'x')).toBe(0);
    expect(() => checkRetryAfterOption(1.5, 'options.retryAfter')).toThrow(
      /whole number of seconds/,
    );
  });

  it('reads only own, known keys and names an unknown one', () => {
    const polluted = Object.create({ timeout: 1 });
    expect(readOptionBag(polluted, ['timeout'], 'options')).toEqual({});
    expect(() => readOptionBag({ timout: 5 }, ['timeout'], 'offThread() options')).toThrow(
      'offThread() options.timout is not an option. Known options: timeout',
    );
    expect(() => readOptionBag('fast', ['timeout'], 'options')).toThrow(TypeError);
  });
});

describe('module path rules', () => {
  const file = fixture('tasks.mjs');
  it('accepts a file URL, a file: string and an absolute path', () => {
    expect(resolveModulePath(file)).toBe(file.pathname);
    expect(resolveModulePath(file.href)).toBe(file.pathname);
    expect(resolveModulePath(file.pathname)).toBe(file.pathname);
  });

  it('resolves a relative path against the caller only when told to', () => {
    expect(() => resolveModulePath('./tasks.mjs', { label: 'handlerModule' })).toThrow(
      /handlerModule must be an absolute path or a file URL, got the relative path "\.\/tasks\.mjs"/,
    );
    const caller = pathToFileURL(fixture('crash.mjs').pathname);
    expect(resolveModulePath('./tasks.mjs', { relativeTo: caller })).toBe(file.pathname);
    expect(resolveModulePath('tasks.mjs', { relativeTo: fixture('.').pathname })).toBe(
      file.pathname,
    );
  });

  it('fails at set-up when the file does not exist, or is not a file URL', () => {
    const error = (() => {
      try {
        resolveModulePath(fixture('nope.mjs'), { label: 'handlerModule' });
      } catch (e) {
        return e as { code: string; message: string };
      }
    })();
    expect(error?.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
    expect(error?.message).toContain('does not exist');
    expect(() => resolveModulePath(new URL('https://example.com/x.js'))).toThrow(TypeError);
    expect(() => resolveModulePath(42, { label: 'handlerModule' })).toThrow(
      /handlerModule must be/,
    );
  });
});
