import { describe, expect, it } from 'vitest';
import { exportedFunctionNames, findExport } from '../src/export-lookup.js';
import { fixture } from './helpers.js';

const load = async (name: string) => (await import(fixture(name).href)) as object;

/** Every name an object or a function inherits: none of them is an export. */
const inheritedNames = [
  ...new Set([
    ...Object.getOwnPropertyNames(Object.prototype),
    ...Object.getOwnPropertyNames(Function.prototype),
    'prototype',
    'length',
    'name',
  ]),
];

describe('findExport', () => {
  it('finds the own exports of an ES module, default included', async () => {
    const ns = await load('tasks.mjs');
    expect(findExport(ns, 'default')?.(1)).toBe(2);
    expect(findExport(ns, 'double')?.(4)).toBe(8);
  });

  it('finds nothing for a name the module does not export as a function', async () => {
    const ns = await load('tasks.mjs');
    expect(findExport(ns, 'notAFunction')).toBeUndefined();
    expect(findExport(ns, 'missing')).toBeUndefined();
    expect(findExport(ns, 'double\0x')).toBeUndefined();
  });

  it.each(['tasks.mjs', 'cjs-tasks.cjs', 'compiled-esm.cjs'])(
    'never answers an inherited name (constructor, toString, __proto__, call, ...) of %s',
    async (file) => {
      const ns = await load(file);
      for (const name of inheritedNames) expect(findExport(ns, name), name).toBeUndefined();
    },
  );

  it('keeps CommonJS interop: module.exports as a function with properties', async () => {
    const ns = await load('cjs-tasks.cjs');
    expect(findExport(ns, 'default')?.(2)).toBe(6);
    expect(findExport(ns, 'negate')?.(2)).toBe(-2);
  });

  it('keeps CommonJS interop: code compiled from ESM (exports.default)', async () => {
    const ns = await load('compiled-esm.cjs');
    expect(findExport(ns, 'default')?.('you')).toBe('hello you');
    expect(findExport(ns, 'shout')?.('hi')).toBe('HI');
  });

  it('looks at own properties only, also for a plain namespace-like object', () => {
    const ns = Object.assign(Object.create({ inherited: () => 1 }), { own: () => 2 });
    expect(findExport(ns, 'own')?.()).toBe(2);
    expect(findExport(ns, 'inherited')).toBeUndefined();
    const parsed = JSON.parse('{"__proto__": 1}');
    expect(findExport({ default: parsed }, '__proto__')).toBeUndefined();
  });
});

describe('exportedFunctionNames', () => {
  it('lists the function exports, CommonJS ones included, once each', async () => {
    expect(exportedFunctionNames(await load('cjs-tasks.cjs'))).toEqual(['default', 'negate']);
    const names = exportedFunctionNames(await load('compiled-esm.cjs'));
    expect(names).toContain('shout');
    expect(names).toContain('default');
    expect(new Set(names).size).toBe(names.length);
    const esm = exportedFunctionNames(await load('tasks.mjs'));
    expect(esm).toContain('double');
    expect(esm).not.toContain('notAFunction');
  });
});
