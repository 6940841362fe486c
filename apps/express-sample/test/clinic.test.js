import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dest = mkdtempSync(join(tmpdir(), 'express-sample-clinic-'));
afterAll(() => rmSync(dest, { recursive: true, force: true }));

function run(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 80_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

it('clinic doctor profiles the off-thread route and analyses its data', async () => {
  const result = await run(
    join(root, 'node_modules/.bin/clinic'),
    [
      'doctor',
      '--open=false',
      '--dest',
      dest,
      '--autocannon',
      '[',
      '-c',
      '2',
      '-d',
      '3',
      '/offthread/30',
      ']',
      '--',
      process.execPath,
      'src/server.js',
    ],
    // PORT=0: any free port; Clinic finds the one the app listens on.
    { NO_INSIGHT: '1', PORT: '0' },
  );
  const output = `${result.stdout}\n${result.stderr}`;
  // Clinic's sampler runs in every thread (NODE_OPTIONS preload); corrupt samples show up here.
  expect(output).not.toMatch(/Decoded message is not valid/);
  expect(output).not.toMatch(/Analysis (?:error|failed)|TypeError|RangeError/);
  expect(result.code, output).toBe(0);
  expect(result.stdout).toMatch(/Analysing data/);
  expect(result.stdout).toMatch(/Generated HTML file is/);
  const html = readdirSync(dest).filter((f) => f.endsWith('.clinic-doctor.html'));
  expect(html).toHaveLength(1);
  // An empty or failed analysis still writes a page, but a much smaller one.
  expect(statSync(join(dest, html[0])).size).toBeGreaterThan(100_000);
  // The off-thread route answered during the run (autocannon's summary is on stderr).
  expect(result.stderr).toMatch(/\d+ requests in/);
});
