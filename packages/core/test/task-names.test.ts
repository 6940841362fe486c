import { describe, expect, it } from 'vitest';
import { createPool, fixture, rejectionOf } from './helpers.js';

/** Names every object or function inherits; none of them is an export of a task module. */
const inheritedNames = [
  ...new Set([
    ...Object.getOwnPropertyNames(Object.prototype),
    ...Object.getOwnPropertyNames(Function.prototype),
    'prototype',
    'length',
    'name',
  ]),
];

describe('task names reach only what a module exports', () => {
  it.each(['tasks.mjs', 'cjs-tasks.cjs', 'compiled-esm.cjs'])(
    'no inherited name (constructor, toString, __proto__, call, ...) of %s can be called',
    async (file) => {
      const pool = createPool({ filename: fixture(file), maxThreads: 1 });
      for (const name of inheritedNames) {
        const error = await rejectionOf(pool.run('1', { name }));
        expect(error.code, name).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
        expect(error.task, name).toBe(name);
      }
      expect(pool.stats().threadsReplaced).toBe(0);
    },
  );

  it("the name 'constructor' does not reach Function", async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await rejectionOf(pool.run('return process.pid', { name: 'constructor' }));
    expect(error.code).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
    expect(error.message).toMatch(/has no export named 'constructor' that is a function/);
  });

  it('CommonJS interop is kept: module.exports as a function with properties', async () => {
    const pool = createPool({ filename: fixture('cjs-tasks.cjs'), maxThreads: 1 });
    expect(await pool.run(2)).toBe(6);
    expect(await pool.run(2, { name: 'negate' })).toBe(-2);
  });

  it('CommonJS interop is kept: code compiled from ESM (exports.default)', async () => {
    const pool = createPool({ filename: fixture('compiled-esm.cjs'), maxThreads: 1 });
    expect(await pool.run('you')).toBe('hello you');
    expect(await pool.run('hi', { name: 'shout' })).toBe('HI');
  });
});
