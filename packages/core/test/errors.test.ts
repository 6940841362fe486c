import { OffThreadError, registerError } from '@offthread/core';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './fixtures/errors.mjs';
import { createPool, fixture, rejectionOf } from './helpers.js';

const errors = fixture('errors.mjs');

describe('errors thrown in tasks', () => {
  it('arrive with their built-in class, message and own properties', async () => {
    const pool = createPool();
    const error = await rejectionOf(
      pool.run(undefined, { filename: errors, name: 'throwBuiltin' }),
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(error.name).toBe('RangeError');
    expect(error.message).toBe('value out of range');
    expect(error.code).toBe('E_RANGE');
  });

  it('arrive as registered user classes with their properties', async () => {
    registerError(ValidationError);
    const pool = createPool();
    const error = await rejectionOf(pool.run(undefined, { filename: errors, name: 'throwCustom' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.name).toBe('ValidationError');
    expect(error.field).toBe('email');
    expect(error.status).toBe(422);
  });

  it('keep the cause chain', async () => {
    const pool = createPool();
    const error = await rejectionOf(
      pool.run(undefined, { filename: errors, name: 'throwWithCause' }),
    );
    expect(error.message).toBe('could not parse the config');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it('have a stack with the worker frames and the caller frames', async () => {
    const pool = createPool();
    async function callerFunctionName() {
      return await pool.run(undefined, { filename: errors, name: 'throwBuiltin' });
    }
    const error = await rejectionOf(callerFunctionName());
    expect(error.stack).toMatch(/at throwBuiltin \(.*errors\.mjs:\d+:\d+\)/);
    // vitest's transform drops V8's "async" marker; plain node keeps it.
    expect(error.stack).toMatch(/at (async )?callerFunctionName \(.*errors\.test\.ts:\d+:\d+\)/);
    expect(error.stack).not.toMatch(/worker-runtime/);
  });

  it('handle async rejections, thrown strings and AggregateError', async () => {
    const pool = createPool();
    const asyncError = await rejectionOf(
      pool.run(undefined, { filename: errors, name: 'rejectAsync' }),
    );
    expect(asyncError).toBeInstanceOf(TypeError);
    expect(await rejectionOf(pool.run(undefined, { filename: errors, name: 'throwString' }))).toBe(
      'plain string',
    );
    const aggregate = await rejectionOf(
      pool.run(undefined, { filename: errors, name: 'throwAggregate' }),
    );
    expect(aggregate).toBeInstanceOf(AggregateError);
    expect(aggregate.errors.map((e: Error) => e.message)).toEqual(['a', 'b']);
    expect(aggregate.errors[1]).toBeInstanceOf(TypeError);
  });

  it('drop properties that cannot be cloned but keep the rest', async () => {
    const pool = createPool();
    const error = await rejectionOf(
      pool.run(undefined, { filename: errors, name: 'throwWithUncloneableProp' }),
    );
    expect(error.message).toBe('has a function prop');
    expect(error.status).toBe(500);
    expect(error.callback).toBeUndefined();
  });

  it('a missing export rejects with ERR_OFFTHREAD_TASK_NOT_FOUND listing the exports', async () => {
    const pool = createPool();
    const error = await rejectionOf(pool.run(1, { name: 'notAFunction' }));
    expect(error).toBeInstanceOf(OffThreadError);
    expect(error.code).toBe('ERR_OFFTHREAD_TASK_NOT_FOUND');
    expect(error.message).toMatch(/Exported functions: .*double/);
  });
});
