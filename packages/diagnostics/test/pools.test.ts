// Issue 12 §2: the @offthread/core pools of the app, seen without importing core.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMonitor, type RunReport } from '../src/index.js';
import { fixture, node, runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'offthread-pools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function doctor(name: string, extra: string[] = []) {
  const json = join(dir, `${name}.json`);
  const r = await runCli(['doctor', '-q', '--json', json, ...extra, '--', node, fixture(name)], {
    env: { RUN_MS: '4000' },
    timeout: 40_000,
  });
  return { ...r, report: JSON.parse(readFileSync(json, 'utf8')) as RunReport };
}

describe('pool threads', () => {
  it('a saturated pool: threads, busy share, queue, waits, tasks/s, hot task function, verdict', async () => {
    const { report, stdout, code } = await doctor('pool-saturated.mjs', ['--fail-on', 'pool']);
    const pool = report.sinceStart!.pools!.find((p) => p.name === 'hasher')!;
    expect(pool).toBeDefined();
    expect(pool.threads).toBe(2);
    expect(pool.maxThreads).toBe(2);
    expect(pool.threadBusy).toHaveLength(2);
    expect(pool.busyShare).toBeGreaterThan(0.8);
    expect(pool.queued).toBeGreaterThan(0);
    expect(pool.wait.p99).toBeGreaterThan(pool.run.p50);
    expect(pool.tasksPerSecond).toBeGreaterThan(0);
    expect(pool.hotFunctions[0]?.frame.functionName).toBe('hashChunk');
    expect(report.samples.some((s) => (s.pools ?? []).length > 0)).toBe(true);
    expect(report.verdict.findings.map((f) => f.kind)).toContain('pool-saturated');
    expect(stdout).toContain('Pool "hasher" saturated');
    expect(stdout).toMatch(/more threads will not help|Raise maxThreads/);
    expect(code).toBe(1);
  });

  it('no false verdict on a pool that keeps up', async () => {
    const { report, code } = await doctor('pool-light.mjs', ['--fail-on', 'pool']);
    const pool = report.sinceStart!.pools!.find((p) => p.name === 'light')!;
    expect(pool).toBeDefined();
    expect(pool.queued).toBe(0);
    expect(report.verdict.findings.map((f) => f.kind)).not.toContain('pool-saturated');
    expect(code).toBe(0);
  });

  it('costs nothing without a pool: no entries, no inspector session for pool threads', async () => {
    const monitor = createMonitor({ sampleInterval: 100 }).start();
    try {
      await new Promise<void>((r) => monitor.once('sample', () => r()));
      expect(monitor.snapshot().sinceStart.pools).toEqual([]);
      expect(monitor.history()[0]?.pools).toEqual([]);
      // White-box: the pool profiler (an inspector session) is only made once a pool exists.
      expect(
        (monitor as unknown as { poolWatcher: { profiler: unknown } }).poolWatcher.profiler,
      ).toBeNull();
    } finally {
      monitor.stop();
    }
  });
});
