import { Pool, type PoolOptions } from '@offthread/core';
import { afterEach } from 'vitest';

export const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
export const tasks = fixture('tasks.mjs');

const pools = new Set<Pool>();

/** A pool destroyed after the test, whatever happens in it. */
export function createPool(options: PoolOptions = {}): Pool {
  const pool = new Pool({ filename: tasks, ...options });
  pools.add(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all([...pools].map((pool) => pool.destroy()));
  pools.clear();
});

/** Resolve with the error a promise rejects with; fail if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<any> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error;
  }
}

export function waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error('waitFor timed out'));
      setTimeout(check, 10);
    };
    check();
  });
}
