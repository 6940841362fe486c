import { describe, expect, it } from 'vitest';
import { parseArgs, parseDuration } from '../src/cli/args.js';
import { parseLoad } from '../src/cli/load.js';
import { createMonitor, DiagnosticsErrorCode, defaultMonitorOptions } from '../src/index.js';

describe('options validation', () => {
  it('names the option in TypeError/RangeError', () => {
    expect(() => createMonitor({ sampleInterval: -1 })).toThrow(
      new RangeError('options.sampleInterval must be a positive number, got -1'),
    );
    expect(() => createMonitor({ blockThreshold: 'x' as never })).toThrow(TypeError);
    expect(() => createMonitor({ blockThreshold: 'x' as never })).toThrow(
      /options\.blockThreshold/,
    );
    expect(() => createMonitor({ profilerInterval: 1.5 })).toThrow(
      /options\.profilerInterval must be a positive integer/,
    );
    expect(() => createMonitor({ threadpool: 1 as never })).toThrow(
      /options\.threadpool must be a boolean/,
    );
  });

  it('fills in defaults', () => {
    const m = createMonitor({ blockThreshold: 30 });
    expect(m.options).toEqual({ ...defaultMonitorOptions, blockThreshold: 30 });
  });

  it('snapshot() before start() throws a coded error', () => {
    expect(() => createMonitor().snapshot()).toThrow(
      expect.objectContaining({ code: DiagnosticsErrorCode.NOT_STARTED }),
    );
  });
});

describe('CLI argument parsing', () => {
  it('parses durations', () => {
    expect(parseDuration('20s', 'x')).toBe(20_000);
    expect(parseDuration('500ms', 'x')).toBe(500);
    expect(parseDuration('2m', 'x')).toBe(120_000);
    expect(() => parseDuration('soon', '--duration')).toThrow(/--duration must be a duration/);
  });

  it('parses doctor flags and the command after --', () => {
    const a = parseArgs([
      'doctor',
      '--duration',
      '5s',
      '--load',
      '-c 8 -d 2 /x',
      '--fail-on',
      'event-loop,threadpool',
      '--json=o.json',
      '--',
      'node',
      'app.js',
    ]);
    expect(a).toMatchObject({
      command: 'doctor',
      duration: 5000,
      load: '-c 8 -d 2 /x',
      json: 'o.json',
      failOn: ['event-loop', 'threadpool'],
      target: ['node', 'app.js'],
    });
    expect(() => parseArgs(['doctor'])).toThrow(/missing the command/);
    expect(() => parseArgs(['doctor', '--fail-on', 'disk', '--', 'node'])).toThrow(
      /--fail-on accepts/,
    );
  });

  it('parses autocannon arguments and keeps load on loopback', () => {
    expect(parseLoad('-c 8 -d 5 /api?q=1')).toMatchObject({
      connections: 8,
      duration: 5,
      path: '/api?q=1',
    });
    expect(parseLoad('http://example.com:9/x -m post -H "a: b"')).toMatchObject({
      path: '/x',
      method: 'POST',
      headers: { a: 'b' },
    });
    expect(() => parseLoad('--renderStatusCodes')).toThrow(/unsupported option/);
  });
});

describe('optional peers', () => {
  it('a missing peer is a coded error that says what to install', async () => {
    const { loadPeer } = await import('../src/exporters/load-peer.js');
    expect(() => loadPeer('offthread-no-such-peer', 'createPrometheusCollector')).toThrow(
      expect.objectContaining({
        code: DiagnosticsErrorCode.PEER_MISSING,
        message: expect.stringContaining('npm install offthread-no-such-peer'),
      }),
    );
  });
});
