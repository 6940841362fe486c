// Issue 12 §3: routes, GC/memory, --baseline.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareToBaseline, diagnose, type RunReport } from '../src/index.js';
import { fixture, node, runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'offthread-features-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function doctorJson(name: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const json = join(dir, `${name}-${Date.now()}.json`);
  const r = await runCli(['doctor', '-q', '--json', json, ...args, '--', node, fixture(name)], {
    env,
    timeout: 40_000,
  });
  return { ...r, json, report: JSON.parse(readFileSync(json, 'utf8')) as RunReport };
}

describe('blocks attributed to the HTTP route', () => {
  it('names the route a block happened in: "GET /report blocked … in buildReport()"', async () => {
    const { report, stdout } = await doctorJson('route-server.mjs', [
      '--load',
      '-c 1 -d 3s /report?id=7',
    ]);
    const routed = report.blocks.filter((b) => b.route);
    expect(routed.length).toBeGreaterThan(0);
    expect(routed[0]!.route).toEqual({ method: 'GET', path: '/report' });
    expect(stdout).toMatch(/GET \/report blocked \d+ ms in buildReport\(\)/);
  });
});

describe('GC and memory', () => {
  it('an allocation-heavy app gets a GC-pressure finding with the share of time in GC', async () => {
    const { report } = await doctorJson('gc-churn.mjs', [], { RUN_MS: '3000' });
    const gc = report.sinceStart!.process.gc!;
    // A diagnosis run observes every collection (the library's default is windows).
    expect(gc.observed).toBe(1);
    expect(gc.count).toBeGreaterThan(0);
    expect(gc.share).toBeGreaterThan(0.1);
    expect(report.verdict.findings.map((f) => f.kind)).toContain('gc-pressure');
  });

  it('no GC verdict on an app that blocks the loop with CPU work, nor on an idle one', async () => {
    const blocking = await doctorJson('busy-wait.mjs', [], { RUN_MS: '3000' });
    expect(blocking.report.sinceStart!.process.gc).toBeDefined();
    expect(blocking.report.verdict.findings.map((f) => f.kind)).not.toContain('gc-pressure');
    const idle = await doctorJson('never-listens.mjs', ['--duration', '2s']);
    expect(idle.report.verdict.findings).toEqual([]);
  });
});

describe('--baseline', () => {
  it('fails (exit 1) when the event loop regressed against an earlier report', async () => {
    const good = await doctorJson('never-listens.mjs', ['--duration', '2500ms']);
    const bad = await runCli(
      ['doctor', '-q', '--baseline', good.json, '--', node, fixture('busy-wait.mjs')],
      { env: { RUN_MS: '3000' } },
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('Compared with the baseline');
    expect(bad.stdout).toMatch(/✖ delay p99/);
    expect(bad.stderr).toContain('regressed against --baseline: delay p99');
  });

  it('passes against itself, and compares CPU per request when both runs had load', () => {
    const report = JSON.parse(
      readFileSync(join(fixture('one-block-report.json')), 'utf8'),
    ) as RunReport;
    report.verdict = diagnose({ sinceStart: report.sinceStart!, blocks: report.blocks });
    expect(compareToBaseline(report, report).regressed).toBe(false);
    const load = {
      url: 'http://127.0.0.1:1/',
      connections: 1,
      duration: 1,
      requests: { average: 100, total: 100 },
      latency: { p50: 1, p99: 1, max: 1 },
      errors: 0,
      timeouts: 0,
      non2xx: 0,
    };
    const before = { ...report, load };
    const after = { ...report, load: { ...load, requests: { average: 50, total: 50 } } };
    const c = compareToBaseline(after, before);
    expect(c.metrics.find((m) => m.name === 'CPU per request')).toMatchObject({ regressed: true });
  });

  it('an unreadable baseline is a usage error', async () => {
    const bogus = join(dir, 'bogus.json');
    writeFileSync(bogus, '{"hello": 1}');
    const r = await runCli(['doctor', '-q', '--baseline', bogus, '--', node, fixture('crash.mjs')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--baseline: cannot read');
  });
});
