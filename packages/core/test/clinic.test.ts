import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';

const clinic = createRequire(import.meta.url).resolve('clinic/bin.js');

describe('Clinic.js', () => {
  it('clinic doctor on an app using the pool produces a report whose analysis reads the data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'offthread-clinic-'));
    const child = spawn(
      process.execPath,
      [
        clinic,
        'doctor',
        '--open=false',
        '--debug',
        '--',
        process.execPath,
        fixture('clinic-app.mjs').pathname,
      ],
      {
        cwd: dir,
        env: { ...process.env, NO_INSIGHT: '1', CI: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    try {
      expect(output).not.toMatch(/Decoded message is not valid/);
      expect(output).toMatch(/clinic-app done/);
      const workerOptions = /worker NODE_OPTIONS: (.*)/.exec(output)?.[1] ?? '';
      expect(workerOptions).not.toMatch(/sampler|no-cluster|detect-port/);
      expect(code, output).toBe(0);
      const clinicDir = join(dir, '.clinic');
      const reports = readdirSync(clinicDir).filter((f) => f.endsWith('.html'));
      expect(reports.length, output).toBe(1);
      // The data folder has exactly one sample file: pool threads did not write their own.
      const dataDir = join(clinicDir, (reports[0] as string).replace(/\.html$/, ''));
      expect(existsSync(dataDir)).toBe(true);
      expect(readdirSync(dataDir).filter((f) => f.endsWith('processstat'))).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
