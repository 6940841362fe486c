import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../src/index.js';
import { fixture, node, runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'offthread-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(
  size: number,
): Promise<{ report: RunReport; stdout: string; code: number | null }> {
  const json = join(dir, `pool-${size}.json`);
  const r = await runCli(
    ['doctor', '-q', '--json', json, '--fail-on', 'threadpool', '--', node, fixture('pbkdf2.cjs')],
    {
      env: { RUN_MS: '3000', UV_THREADPOOL_SIZE: String(size) },
    },
  );
  return { report: JSON.parse(readFileSync(json, 'utf8')), stdout: r.stdout, code: r.code };
}

describe('32 concurrent crypto.pbkdf2 calls', () => {
  it('with UV_THREADPOOL_SIZE=4: queued, waiting, saturated, recommends more threads', async () => {
    const { report, stdout, code } = await run(4);
    const tp = report.sinceStart!.threadpool;
    expect(tp.size).toBe(4);
    expect(tp.peak.inFlight).toBe(32);
    expect(tp.peak.queued).toBe(28);
    expect(
      report.samples.some((s) => s.threadpool.queued.crypto > 0 || s.threadpool.peak.queued > 0),
    ).toBe(true);
    expect(tp.wait.p99).toBeGreaterThan(20);
    expect(tp.saturation).toBeGreaterThan(0.8);
    expect(tp.recommendedSize).toBeGreaterThan(4);
    expect(report.verdict.findings.map((f) => f.kind)).toContain('threadpool-saturated');
    expect(stdout).toMatch(/UV_THREADPOOL_SIZE=\d+/);
    expect(code).toBe(1);
  });

  it('with UV_THREADPOOL_SIZE=32: the queue is gone', async () => {
    const { report, code } = await run(32);
    const tp = report.sinceStart!.threadpool;
    expect(tp.size).toBe(32);
    expect(tp.peak.inFlight).toBe(32);
    expect(tp.peak.queued).toBe(0);
    expect(tp.wait.max).toBe(0);
    expect(tp.recommendedSize).toBe(32);
    expect(report.verdict.findings.map((f) => f.kind)).not.toContain('threadpool-saturated');
    expect(code).toBe(0);
  });
});
