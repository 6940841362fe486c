import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const app = fileURLToPath(new URL('./fixtures/ready-app.mjs', import.meta.url));

/** Run the fixture app in a fresh process (start-up checks are process-wide). */
function runApp(scenario: string): Promise<{ out: any; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [app, scenario],
      { timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '', NODE_ENV: 'test' } },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr}`));
        const line = stdout.trim().split('\n').at(-1) ?? '';
        resolve({ out: JSON.parse(line), stderr });
      },
    );
  });
}

/** Lines of process warnings (`(node:123) [CODE] Name: message`). */
const warnings = (stderr: string) => stderr.split('\n').filter((l) => /^\(node:\d+\)/.test(l));

describe('offThreadReady()', () => {
  it('rejects for a module that failed long before it was called, and prints no warning for it', async () => {
    const { out, stderr } = await runApp('late-ready');
    expect(out.ready).toMatchObject({
      resolved: false,
      codes: ['ERR_OFFTHREAD_WORKER_INIT'],
    });
    expect(out.ready.message).toMatch(/broken at load time/);
    // A failure does not go away once reported.
    expect(out.again.resolved).toBe(false);
    expect(warnings(stderr)).toEqual([]);
  });

  it('rejects for every failure of every middleware, with an AggregateError', async () => {
    const { out, stderr } = await runApp('every-failure');
    expect(out.ready.resolved).toBe(false);
    expect(out.ready.name).toBe('AggregateError');
    expect(out.ready.codes.sort()).toEqual([
      'ERR_OFFTHREAD_TASK_NOT_FOUND',
      'ERR_OFFTHREAD_WORKER_INIT',
    ]);
    expect(out.ready.message).toMatch(/2 start-up checks failed/);
    expect(warnings(stderr)).toEqual([]);
  });

  it('resolves when every handler module loaded', async () => {
    const { out } = await runApp('all-good');
    expect(out.ready).toEqual({ resolved: true });
  });

  it('prints an unchecked failure once, when a request reaches the broken route', async () => {
    const { out, stderr } = await runApp('unchecked');
    expect(out.statuses).toEqual([500, 500]);
    const printed =
      stderr.match(/\(node:\d+\) \[ERR_OFFTHREAD_WORKER_INIT\] OffThreadError/g) ?? [];
    expect(printed.length).toBe(1);
  });
});

describe('require() and import() in one process', () => {
  it('share one default pool and one start-up registry', async () => {
    const { out } = await runApp('dual-package');
    expect(out.twoCopies).toBe(true);
    expect(out.samePool).toBe(true);
    expect(out.ready).toMatchObject({ resolved: false, codes: ['ERR_OFFTHREAD_WORKER_INIT'] });
    expect(out.samePoolAfterClose).toBe(true);
  });
});
