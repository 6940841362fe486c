import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { siblingProcessCount } from '../src/options.js';
import { stripProcessWidePreloads } from '../src/worker-env.js';
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
    expect(JSON.parse(targets).length).toBeGreaterThan(0);
  });
});
