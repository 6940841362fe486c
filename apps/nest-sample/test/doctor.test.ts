import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const offthreadBin = createRequire(import.meta.url)
  .resolve('@offthread/diagnostics/package.json')
  .replace(/package\.json$/, 'bin/offthread.js');
const appDir = fileURLToPath(new URL('..', import.meta.url));

describe('offthread doctor on the Nest sample', () => {
  // Nest's boot loads hundreds of files through Node's ESM loader (fs/promises reads): a burst
  // that really queues on libuv's 4 threads for a few ms, once. It used to earn a "thread pool
  // saturated" verdict advising UV_THREADPOOL_SIZE=70 on an app whose problem is CPU.
  it('a CPU-blocking route: event loop blocked, and no thread-pool verdict from the startup burst', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nest-sample-doctor-'));
    const json = join(dir, 'report.json');
    const child = spawn(
      process.execPath,
      [
        offthreadBin,
        'doctor',
        '--quiet',
        '--load',
        '-c 4 -d 4 /blocking/300',
        '--json',
        json,
        '--',
        process.execPath,
        'dist/main.js',
      ],
      { cwd: appDir, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    try {
      const report = JSON.parse(readFileSync(json, 'utf8'));
      const kinds = report.verdict.findings.map((f: { kind: string }) => f.kind);
      expect(kinds, output).toContain('event-loop-blocked');
      expect(kinds, output).not.toContain('threadpool-saturated');
      expect(output).not.toMatch(/UV_THREADPOOL_SIZE=/);
      expect(code, output).not.toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 110_000);
});
