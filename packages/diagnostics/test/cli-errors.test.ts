import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, node, runCli } from './helpers.js';

describe('offthread doctor: clear errors', () => {
  it('a command that does not exist: exit 3 and ENOENT explained', async () => {
    const r = await runCli(['doctor', '-q', '--', 'offthread-no-such-command-xyz']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      'could not start "offthread-no-such-command-xyz": command not found (ENOENT)',
    );
  });

  it('a command that exits early with an error: its exit code and last stderr lines', async () => {
    const r = await runCli(['doctor', '-q', '--', node, fixture('crash.mjs')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/exited early with exit code 3 after \d+\.\d s/);
    expect(r.stderr).toContain('Last lines of its stderr:');
    expect(r.stderr).toContain('Error: database connection refused');
  });

  it('--load on a command that never listens: times out with a message', async () => {
    const r = await runCli([
      'doctor',
      '-q',
      '--load',
      '-c 1 -d 1 /',
      '--listen-timeout',
      '1500ms',
      '--',
      node,
      fixture('never-listens.mjs'),
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('did not listen on a TCP port within 1.5 s');
  });

  it('usage errors exit 2 and point at --help', async () => {
    const r = await runCli(['doctor', '--bogus', '--', node, fixture('crash.mjs')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--bogus'");
    expect(r.stderr).toContain('npx @offthread/diagnostics doctor --help');
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('npx @offthread/diagnostics doctor [options] -- node app.js');
  });
});

describe('offthread doctor: ending a run', () => {
  it('SIGINT ends the run cleanly with a report', async () => {
    const r = await runCli(['doctor', '--', node, fixture('never-listens.mjs')], {
      // Interrupt once the app runs; what a Ctrl+C in a terminal does to the CLI.
      onSpawn: (child) => {
        setTimeout(() => child.kill('SIGINT'), 2000);
      },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(ended: sigint)');
    expect(r.stdout).toContain('Verdict: ✔ HEALTHY');
    expect(r.stdout).toMatch(/event loop {3}delay p50/);
  });

  it('--duration ends a command that would run forever', async () => {
    const r = await runCli([
      'doctor',
      '-q',
      '--duration',
      '2s',
      '--',
      node,
      fixture('never-listens.mjs'),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(ended: duration)');
  });

  /** Run `offthread doctor` on a fixture; the report with its block and hot function names. */
  async function doctorNames(fixtureName: string) {
    const dir = mkdtempSync(join(tmpdir(), 'offthread-test-'));
    const file = join(dir, 'report.json');
    await runCli(['doctor', '-q', '--json', file, '--', node, fixture(fixtureName)], {
      env: { RUN_MS: '3000' },
    });
    const report = JSON.parse(readFileSync(file, 'utf8'));
    rmSync(dir, { recursive: true, force: true });
    const blocks: string[] = report.blocks.map(
      (b: { stack: { functionName: string }[] }) => b.stack[0]?.functionName,
    );
    const hot: string[] = report.profile.hotFunctions.map(
      (h: { frame: { functionName: string } }) => h.frame.functionName,
    );
    return { report, blocks, hot };
  }

  it('worker threads do not report: only the main thread’s blocks, never the workers’', async () => {
    const { blocks, hot } = await doctorNames('with-workers.mjs');
    expect(blocks.filter((n) => n === 'mainBlock').length).toBeGreaterThanOrEqual(2);
    expect(blocks).not.toContain('workerSpin');
    expect(hot).not.toContain('workerSpin');
  });

  it('apps using an @offthread/core pool: pool threads never report, the main thread does', async () => {
    const { report, blocks, hot } = await doctorNames('with-pool.mjs');
    expect(blocks.filter((n) => n === 'mainBlock').length).toBeGreaterThanOrEqual(2);
    expect(blocks).not.toContain('poolSpin');
    expect(hot).not.toContain('poolSpin');
    // One report, from one process: the samples are the main thread's only.
    expect(report.pid).toBeTypeOf('number');
    expect(report.samples.length).toBeGreaterThan(0);
  });
});
