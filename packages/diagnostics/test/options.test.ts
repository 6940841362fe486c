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
  it('one unit rule for every duration flag: a plain number is ms, units accepted', () => {
    expect(parseDuration('100', 'x')).toBe(100);
    expect(parseDuration('20s', 'x')).toBe(20_000);
    expect(parseDuration('500ms', 'x')).toBe(500);
    expect(parseDuration('2m', 'x')).toBe(120_000);
    expect(() => parseDuration('soon', '--duration')).toThrow(/--duration must be a duration/);
    for (const flag of [
      '--duration',
      '--sample-interval',
      '--block-threshold',
      '--listen-timeout',
    ]) {
      const plain = parseArgs(['doctor', flag, '100', '--', 'node', 'a.js']);
      const unit = parseArgs(['doctor', flag, '2s', '--', 'node', 'a.js']);
      const key = {
        '--duration': 'duration',
        '--sample-interval': 'sampleInterval',
        '--block-threshold': 'blockThreshold',
        '--listen-timeout': 'listenTimeout',
      }[flag] as 'duration';
      expect([flag, plain[key], unit[key]]).toEqual([flag, 100, 2000]);
    }
  });

  it('a huge --duration is rejected with a usage error, not turned into 1 ms', () => {
    expect(() => parseArgs(['doctor', '--duration', '99999999999s', '--', 'node'])).toThrow(
      expect.objectContaining({
        code: DiagnosticsErrorCode.USAGE,
        message: expect.stringContaining('--duration must be at most 365 days'),
      }),
    );
    // Under the bound but beyond what one timer holds (2^31-1 ms): accepted, scheduled in steps.
    expect(parseArgs(['doctor', '--duration', '3000000000', '--', 'node']).duration).toBe(
      3_000_000_000,
    );
  });

  it('parses doctor flags with node:util.parseArgs and the command after --', () => {
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
    expect(() => parseArgs(['doctor', '--bogus', '--', 'node'])).toThrow(/--bogus/);
    expect(() => parseArgs(['doctor', 'node', 'app.js'])).toThrow(/after "--"/);
  });

  it('--help after a command asks for that command’s help', () => {
    expect(parseArgs(['doctor', '--help'])).toMatchObject({ command: 'help', helpFor: 'doctor' });
    expect(parseArgs(['watch', '-h'])).toMatchObject({ command: 'help', helpFor: 'watch' });
    expect(parseArgs(['help', 'doctor'])).toMatchObject({ command: 'help', helpFor: 'doctor' });
    expect(parseArgs(['watch', '--fail-on', 'event-loop', '--', 'node'])).toMatchObject({
      command: 'watch',
      failOn: ['event-loop'],
    });
  });

  it('parses --load with autocannon’s own parser and keeps load on loopback', () => {
    expect(parseLoad('-c 8 -d 5 /api?q=1')).toMatchObject({
      path: '/api?q=1',
      hasDuration: true,
      options: { connections: 8, duration: 5 },
    });
    expect(parseLoad('http://example.com:9/x -m POST -H "a: b"')).toMatchObject({
      path: '/x',
      hasDuration: false,
      options: { method: 'POST', headers: { a: ' b' } },
    });
    // Flags only autocannon knows, in its own spelling.
    expect(parseLoad('--connectionRate 50 -c 2').options).toMatchObject({
      connectionRate: 50,
      connections: 2,
    });
    expect(parseLoad('-c 2').path).toBe('/');
    expect(() => parseLoad('-w 2 /')).toThrow(/--workers is not supported/);
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
