import { describe, expect, it } from 'vitest';
import { adapterEntries, adapterEntry } from '../src/adapters.js';

const map = (path: string) => `mapped:${path}`;

function entry(name: string) {
  const found = adapterEntry(name);
  if (!found) throw new Error(`no adapter entry for ${name}`);
  return found;
}

describe('adapter entries through a remote pool', () => {
  it('Express: the handler path is rewritten and the process-local stream channel dropped', () => {
    const out = entry('@offthread/express').mapPaths(
      { f: '/app/handlers/a.js', r: { url: '/a' }, c: 'offthread-streams-1', i: 7 },
      'default',
      map,
    );
    expect(out).toEqual({ f: 'mapped:/app/handlers/a.js', r: { url: '/a' } });
    expect(entry('@offthread/express').mapPaths('/app/h.js', 'check', map)).toBe(
      'mapped:/app/h.js',
    );
  });

  it('Nest: class and module files are rewritten; target ids are scoped to the calling pool', () => {
    const target = { id: '1', classFile: '/app/s.js', moduleFile: '/app/m.js', classExport: 'S' };
    const call = entry('@offthread/nestjs').mapPaths(
      { op: 'call', id: '1', target, method: 'run', args: [] },
      'default',
      map,
      'pool-a',
    );
    expect(call).toEqual({
      op: 'call',
      id: 'pool-a/1',
      target: {
        id: 'pool-a/1',
        classFile: 'mapped:/app/s.js',
        moduleFile: 'mapped:/app/m.js',
        classExport: 'S',
      },
      method: 'run',
      args: [],
    });
    // Two caller processes may both number their first target '1': on a shared worker they differ.
    const other = entry('@offthread/nestjs').mapPaths(
      { op: 'call', id: '1' },
      'default',
      map,
      'pool-b',
    ) as {
      id: string;
    };
    expect(other.id).not.toBe((call as { id: string }).id);
    const check = entry('@offthread/nestjs').mapPaths(
      {
        op: 'check',
        module: { moduleFile: '/app/m.js' },
        targets: [{ ...target, classFile: undefined }],
      },
      'default',
      map,
      'pool-a',
    );
    expect(check).toMatchObject({
      module: { moduleFile: 'mapped:/app/m.js' },
      targets: [{ id: 'pool-a/1', classFile: undefined, moduleFile: 'mapped:/app/m.js' }],
    });
  });

  it('only the adapter packages are entries, looked up without the prototype', () => {
    expect(Object.hasOwn(adapterEntries, 'constructor')).toBe(false);
    expect((adapterEntries as Record<string, unknown>).toString).toBeUndefined();
  });
});
