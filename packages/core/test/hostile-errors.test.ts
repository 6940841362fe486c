import { isOffThreadError } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { createPool, fixture } from './helpers.js';

const hostile = fixture('hostile-errors.mjs');

/** The error `promise` rejects with; fails the test (instead of hanging it) if it never settles. */
async function rejection(promise: Promise<unknown>, ms = 15_000): Promise<any> {
  let timer: NodeJS.Timeout | undefined;
  const never = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the task did not settle within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, never]);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('the task did not settle')) throw error;
    return error;
  } finally {
    clearTimeout(timer);
  }
  throw new Error('expected a rejection, got a value');
}

describe('hostile errors thrown by tasks', () => {
  it.each(['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf'])(
    "a thrown { name: '%s' } rejects normally and the pool keeps working",
    async (name) => {
      const pool = createPool({ filename: hostile, maxThreads: 1 });
      const error = await rejection(pool.run(name, { name: 'throwObjectNamed' }));
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
      expect(error.message).toBe('x');
      expect(await pool.run(5, { name: 'ok' })).toBe(5);
    },
  );

  it('an error of a class named like a builtin method rejects with its message', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    for (const name of ['toString', 'constructor', '__proto__']) {
      const error = await rejection(pool.run(name, { name: 'throwClassNamed' }));
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe('from a class with an odd name');
    }
  });

  it("parsed JSON with a '__proto__' key cannot change the rebuilt error's prototype", async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const json = JSON.stringify({
      name: 'constructor',
      message: 'from JSON',
      code: 'E_JSON',
    }).replace('{', '{"__proto__":{"polluted":true,"name":"Evil"},');
    const error = await rejection(pool.run(json, { name: 'throwParsedJson' }));
    expect(Object.getPrototypeOf(error)).toBe(Error.prototype);
    expect(error.polluted).toBeUndefined();
    expect(error.message).toBe('from JSON');
    expect(error.code).toBe('E_JSON');
    // The key arrives as what it was: an own property holding data.
    expect(Object.hasOwn(error, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(error, '__proto__')?.value).toEqual({
      polluted: true,
      name: 'Evil',
    });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('an AggregateError that lists itself arrives with the same cycle, without exhausting the heap', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(6, { name: 'throwSelfListingAggregate' }));
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.message).toBe('I contain myself');
    expect(error.errors).toHaveLength(6);
    for (const member of error.errors) expect(member).toBe(error);
    expect(await pool.run(1, { name: 'ok' })).toBe(1);
  });

  it('an AggregateError with 100 000 members keeps the first ones and says how many were left out', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(100_000, { name: 'throwHugeAggregate' }));
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.errors.length).toBeLessThanOrEqual(101);
    expect(error.errors[0].message).toBe('member 0');
    expect(error.errors.at(-1).message).toMatch(/\d+ more errors were omitted/);
  });

  it('a cause cycle arrives as the same cycle', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(undefined, { name: 'throwCauseCycle' }));
    expect(error.message).toBe('a');
    expect(error.cause.message).toBe('b');
    expect(error.cause.cause).toBe(error);
  });

  it('a deep cause chain keeps its first levels and its root cause', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(200, { name: 'throwDeepCauseChain' }));
    const chain: any[] = [];
    for (let e = error; e !== undefined; e = e.cause) chain.push(e);
    expect(chain.slice(0, 10).map((e) => e.message)).toEqual(
      Array.from({ length: 10 }, (_, i) => `level ${i}`),
    );
    const root = chain.at(-1);
    expect(root).toBeInstanceOf(TypeError);
    expect(root.message).toBe('root cause');
    expect(root.code).toBe('E_ROOT');
    expect(chain.some((e) => /intermediate causes were omitted/.test(e.message))).toBe(true);
    expect(chain.length).toBeLessThan(40);
  });

  it('a short cause chain arrives whole', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(12, { name: 'throwDeepCauseChain' }));
    const messages: string[] = [];
    for (let e = error; e !== undefined; e = e.cause) messages.push(e.message);
    expect(messages).toEqual([...Array.from({ length: 12 }, (_, i) => `level ${i}`), 'root cause']);
  });

  it.each(['message', 'name', 'stack', 'cause', 'detail'])(
    'an error whose %s getter throws rejects with what can be read; its thread survives',
    async (field) => {
      const pool = createPool({ filename: hostile, maxThreads: 1 });
      const error = await rejection(pool.run(field, { name: 'throwWithThrowingGetter' }));
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBeUndefined(); // not an ERR_OFFTHREAD_WORKER_EXIT
      expect(error.status).toBe(418);
      if (field === 'message') expect(error.message).toMatch(/could not be read/);
      else expect(error.message).toBe('readable message');
      expect(await pool.run(2, { name: 'ok' })).toBe(2);
      expect(pool.stats().threadsReplaced).toBe(0);
    },
  );

  it('a Proxy whose every trap throws rejects, and its thread survives', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(undefined, { name: 'throwHostileProxy' }));
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBeUndefined();
    expect(await pool.run(3, { name: 'ok' })).toBe(3);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('a message that cannot be turned into a string rejects, and its thread survives', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(undefined, { name: 'throwUnprintableMessage' }));
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBeUndefined();
    expect(typeof error.message).toBe('string');
    expect(await pool.run(4, { name: 'ok' })).toBe(4);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('a thrown registered symbol arrives as that symbol', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    expect(await rejection(pool.run('offthread.test', { name: 'throwSymbol' }))).toBe(
      Symbol.for('offthread.test'),
    );
  });

  it('a DOMException arrives as a DOMException with its name and code', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const error = await rejection(pool.run(undefined, { name: 'throwDomException' }));
    expect(error).toBeInstanceOf(DOMException);
    expect(error.name).toBe('TimeoutError');
    expect(error.code).toBe(DOMException.TIMEOUT_ERR);
    expect(error.message).toBe('took too long');
    expect(error.stack).toMatch(/throwDomException/);
  });

  it('an argument that is a Proxy whose every trap throws rejects with ERR_OFFTHREAD_UNCLONEABLE', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const trap = () => {
      throw new Error('trap');
    };
    const arg = new Proxy({}, { get: trap, has: trap, ownKeys: trap, getPrototypeOf: trap });
    let outcome: Promise<unknown>;
    try {
      outcome = pool.run(arg, { name: 'ok' });
    } catch (error) {
      outcome = Promise.resolve(`run() threw synchronously: ${error}`);
    }
    const error = await rejection(outcome);
    expect(error.code).toBe('ERR_OFFTHREAD_UNCLONEABLE');
    expect(await pool.run(7, { name: 'ok' })).toBe(7);
  });

  it('a polluted Object.prototype does not make every value look like transfer() output', async () => {
    const pool = createPool({ filename: hostile, maxThreads: 1 });
    const marker = Symbol.for('offthread.transfer');
    const proto = Object.prototype as Record<symbol, unknown>;
    proto[marker] = true;
    try {
      expect(await pool.run({ a: 1 }, { name: 'ok' })).toEqual({ a: 1 });
    } finally {
      delete proto[marker];
    }
  });

  it('isOffThreadError() answers false, not throws, for a value whose code getter or traps throw', () => {
    const error = new Error('x');
    Object.defineProperty(error, 'code', {
      get() {
        throw new Error('no');
      },
    });
    expect(isOffThreadError(error)).toBe(false);
    const trap = () => {
      throw new Error('trap');
    };
    expect(isOffThreadError(new Proxy({}, { getPrototypeOf: trap, get: trap }))).toBe(false);
  });

  it.each(['throws-symbol-on-load.mjs', 'throws-proxy-on-load.mjs'])(
    'a module whose evaluation throws an unprintable value (%s) rejects with ERR_OFFTHREAD_WORKER_INIT',
    async (file) => {
      const pool = createPool({ maxThreads: 1 });
      const error = await rejection(pool.run(1, { filename: fixture(file) }));
      expect(error.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
      expect(error.message).toMatch(new RegExp(`${file.replace('.', '\\.')} failed to load`));
      expect(await pool.run(1)).toBe(2);
    },
  );
});
