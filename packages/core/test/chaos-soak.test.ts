import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';

describe('chaos soak', () => {
  it('no task runs twice, every outcome is right, every promise settles once, threads stay within maxThreads, and the process exits by itself', async () => {
    // In a child process so that "exits by itself" can be asserted: nothing may keep it alive.
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      execFile(
        process.execPath,
        [fixture('chaos-soak.mjs').pathname, '20000'],
        { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
        (error, out, err) =>
          resolve({
            code: error ? ((error as { code?: number }).code ?? null) : 0,
            stdout: out,
            stderr: err,
          }),
      );
    });
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').pop() as string);
    expect(report.violations, stdout).toEqual([]);
    expect(report.unhandled).toEqual([]);
    expect(report.executedTwice).toBe(0);
    expect(report.settledTwice).toBe(0);
    expect(report.maxThreadsSeen).toBeLessThanOrEqual(2);
    expect(report.total).toBeGreaterThan(1000);
    // The faults really happened.
    for (const outcome of [
      'value',
      'thrown',
      'ERR_OFFTHREAD_WORKER_EXIT',
      'ERR_OFFTHREAD_TIMEOUT',
      'ERR_OFFTHREAD_ABORTED',
      'ERR_OFFTHREAD_OUT_OF_MEMORY',
    ]) {
      expect(report.outcomes[outcome] ?? 0, `${outcome} in ${stdout}`).toBeGreaterThan(0);
    }
  }, 150_000);
});
