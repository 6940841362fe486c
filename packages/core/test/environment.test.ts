import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { siblingProcessCount } from '../src/options.js';
import { removeNodeOption, stripProcessWidePreloads } from '../src/worker-env.js';
import { tasks } from './helpers.js';

const run = promisify(execFile);
const cwd = new URL('..', import.meta.url);

describe('composing with other tools', () => {
  it('sizes the default thread count for sibling processes (cluster, PM2)', () => {
    expect(siblingProcessCount({})).toBe(1);
    expect(siblingProcessCount({ OFFTHREAD_PROCESS_COUNT: '4' })).toBe(4);
    expect(siblingProcessCount({ NODE_APP_INSTANCE: '0', instances: '2' })).toBe(2);
    expect(siblingProcessCount({ instances: '2' })).toBe(1);
  });

  it('keeps Clinic.js samplers out of pool threads, and everything else in', () => {
    const nodeOptions =
      '--max-old-space-size=512 --require "/x y/node_modules/@clinic/doctor/injects/sampler.js" -r /app/otel.js';
    expect(stripProcessWidePreloads(nodeOptions)).toBe('--max-old-space-size=512 -r /app/otel.js');
    expect(stripProcessWidePreloads('--require /app/otel.js')).toBeUndefined();
  });

  it('recognises Clinic preloads given as bare names found through NODE_PATH', () => {
    const clinic = createRequire(import.meta.url).resolve('clinic/package.json');
    const injects = dirname(createRequire(clinic).resolve('@clinic/doctor/injects/sampler.js'));
    const nodeOptions = '-r no-cluster.js -r sampler.js --trace-events-enabled -r /app/otel.js';
    expect(stripProcessWidePreloads(nodeOptions, injects)).toBe(
      '--trace-events-enabled -r /app/otel.js',
    );
    // Without Clinic's NODE_PATH a bare sampler.js is someone else's: kept.
    expect(stripProcessWidePreloads(nodeOptions, '/app/node_modules')).toBeUndefined();
  });

  it('drops a flag threads refuse, with its value', () => {
    expect(
      removeNodeOption('--trace-event-categories v8,node -r /a.js', '--trace-event-categories'),
    ).toBe('-r /a.js');
    expect(
      removeNodeOption('--trace-events-enabled --max-old-space-size=64', '--trace-events-enabled'),
    ).toBe('--max-old-space-size=64');
  });

  it('works under --inspect, and pool threads are debuggable targets', async () => {
    const script = `
      import { Pool } from '@offthread/core';
      import { Session } from 'node:inspector/promises';
      const session = new Session();
      session.connect();
      const targets = [];
      session.on('NodeWorker.attachedToWorker', (m) => targets.push(m.params.workerInfo.title));
      await session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
      const pool = new Pool({ filename: ${JSON.stringify(tasks.href)}, minThreads: 1, maxThreads: 1, name: 'debuggable' });
      console.log(await pool.run(1));
      await new Promise((r) => setTimeout(r, 100));
      console.log(JSON.stringify(targets));
      await pool.close();
      session.disconnect();
    `;
    const { stdout } = await run(
      process.execPath,
      ['--inspect=127.0.0.1:0', '--input-type=module', '-e', script],
      { cwd, timeout: 20_000 },
    );
    const [result, targets] = stdout.trim().split('\n');
    expect(result).toBe('2');
    expect(JSON.parse(targets as string).length).toBeGreaterThan(0);
  });
});
