import { describe, expect, it } from 'vitest';
import { deserializeError, serializeError } from '../src/error-serialization.js';

/** What the caller gets: serialized in "the thread", cloned as postMessage would, rebuilt. */
const roundTrip = (thrown: unknown): any =>
  deserializeError(structuredClone(serializeError(thrown)));

describe('error copies are bounded', () => {
  it('messages and stacks share a budget of 1 000 000 characters', () => {
    const error = new Error('m'.repeat(2_000_000));
    const copy = roundTrip(error);
    expect(copy.message.length).toBeLessThan(1_000_100);
    expect(copy.message).toMatch(/… \[1000000 characters omitted\]$/);
  });

  it('keeps at most 64 own properties per error', () => {
    const error = Object.assign(
      new Error('many props'),
      Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`p${i}`, i])),
    );
    const copy = roundTrip(error);
    expect(copy.p0).toBe(0);
    expect(copy.p63).toBe(63);
    expect(copy.p64).toBeUndefined();
  });

  it('keeps at most 256 errors from one thrown value', () => {
    const members = Array.from(
      { length: 100 },
      (_, i) =>
        new AggregateError([new Error(`a${i}`), new Error(`b${i}`), new Error(`c${i}`)], `m${i}`),
    );
    const copy = roundTrip(new AggregateError(members, 'top'));
    let count = 0;
    const visit = (e: any) => {
      count++;
      for (const member of e.errors ?? []) visit(member);
    };
    visit(copy);
    expect(count).toBeLessThan(300);
    expect(copy.errors[0].errors[0].message).toBe('a0');
  });

  it('a cause chain of 20 000 levels is copied in a few levels, keeping the root', () => {
    let error: Error = new RangeError('root');
    for (let i = 0; i < 20_000; i++) error = new Error(`level ${i}`, { cause: error });
    const messages: string[] = [];
    for (let e = roundTrip(error); e !== undefined; e = e.cause) messages.push(e.message);
    expect(messages.length).toBe(17);
    expect(messages.at(-1)).toBe('root');
    expect(messages.at(-2)).toMatch(/^19985 intermediate causes were omitted/);
  });

  it('a chain that loops past the kept levels ends with a note instead of looping', () => {
    const errors = Array.from({ length: 40 }, (_, i) => new Error(`e${i}`));
    errors.forEach((e, i) => {
      e.cause = errors[(i + 1) % 40 === 0 ? 20 : i + 1];
    });
    const messages: string[] = [];
    for (let e = roundTrip(errors[0]), n = 0; e !== undefined && n < 100; e = e.cause, n++)
      messages.push(e.message);
    expect(messages.length).toBeLessThan(40);
    expect(messages.slice(0, 15)).toEqual(Array.from({ length: 15 }, (_, i) => `e${i}`));
  });
});

describe('rebuilding never lets a name reach a prototype', () => {
  it('class names and error names that are Object.prototype keys rebuild as plain errors', () => {
    for (const name of [
      'toString',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      '__defineGetter__',
    ]) {
      const data = { id: 0, className: name, name, message: 'x', props: [] };
      const copy = deserializeError(data) as Error;
      expect(copy).toBeInstanceOf(Error);
      expect(Object.getPrototypeOf(copy)).toBe(Error.prototype);
      expect(copy.name).toBe(name);
    }
  });

  it('malformed data becomes an Error saying so, never a throw', () => {
    const copy = deserializeError({
      id: 0,
      className: 'Error',
      name: 'Error',
      message: 'x',
      props: [],
      errors: 5 as never,
    });
    expect(copy).toBeInstanceOf(Error);
    expect((copy as Error).message).toMatch(/could not be rebuilt/);
  });
});
