import { transfer } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, rejectionOf } from './helpers.js';

describe('control travels in the protocol, names are matched literally', () => {
  it("'\\u0001check:default' is an export name like any other: TASK_NOT_FOUND, not a preload check", async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await rejectionOf(pool.run(1, { name: '\u0001check:default' }));
    expect(error.code).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
  });

  it("'double\\0x' does not run double", async () => {
    const pool = createPool({ maxThreads: 1 });
    const error = await rejectionOf(pool.run(2, { name: 'double\0x' }));
    expect(error.code).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
    expect(await pool.run(2, { name: 'double' })).toBe(4);
  });

  it('preload() checks exports through its own message and still reports what is missing', async () => {
    const pool = createPool({ maxThreads: 1 });
    await pool.preload({ names: ['default', 'double'] });
    const missing = await rejectionOf(pool.preload({ names: ['double\0x'] }));
    expect(missing.code).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
  });
});

describe('pool.proxy()', () => {
  it('moves transfer() arguments exactly like run(): the buffer is detached here and the task gets the bytes', async () => {
    const pool = createPool({ maxThreads: 1 });
    const tasks = pool.proxy<{ sum(bytes: Uint8Array): { total: number; byteLength: number } }>();
    const bytes = new Uint8Array(new ArrayBuffer(1024)).fill(2);
    const result = await tasks.sum(transfer(bytes) as unknown as Uint8Array);
    expect(result).toEqual({ total: 2048, byteLength: 1024 });
    expect(bytes.byteLength).toBe(0); // moved, not copied
  });

  it('a transfer() among several arguments moves that one only', async () => {
    const pool = createPool({ maxThreads: 1 });
    const tasks = pool.proxy<{ add(a: unknown, b: unknown): unknown }>();
    const kept = new Uint8Array(8);
    const moved = new Uint8Array(new ArrayBuffer(8));
    // add(a, b) = a + b: with typed arrays it is their string forms joined.
    const result = await tasks.add(kept, transfer(moved));
    expect(result).toBe('0,0,0,0,0,0,0,00,0,0,0,0,0,0,0');
    expect(kept.byteLength).toBe(8);
    expect(moved.byteLength).toBe(0);
  });
});
