import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const clinic = createRequire(import.meta.url).resolve('clinic/bin.js');
const mainFile = fileURLToPath(new URL('../dist/main.js', import.meta.url));

describe('Clinic.js', () => {
  it('clinic doctor under load on /offthread produces a report whose analysis reads the data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nest-sample-clinic-'));
    const child = spawn(
      process.execPath,
      [
        clinic,
        'doctor',
        '--open=false',
        '--autocannon',
        '[',
        '-c',
        '4',
        '-d',
        '4',
        '/offthread/30',
        ']',
        '--',
        process.execPath,
        mainFile,
      ],
      {
        cwd: dir,
        env: { ...process.env, NO_INSIGHT: '1', PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    try {
      expect(output).not.toMatch(/Decoded message is not valid|Analysis .*failed|Error:/);
      expect(output).toMatch(/nest-sample listening/);
      expect(code, output).toBe(0);
      const clinicDir = join(dir, '.clinic');
      const reports = readdirSync(clinicDir).filter((f) => f.endsWith('.html'));
      expect(reports, output).toHaveLength(1);
      expect(statSync(join(clinicDir, reports[0])).size).toBeGreaterThan(10_000);
      // One process-stat sample file: the pool's threads did not write their own.
      const dataDir = join(clinicDir, reports[0].replace(/\.html$/, ''));
      expect(existsSync(dataDir)).toBe(true);
      expect(readdirSync(dataDir).filter((f) => f.endsWith('processstat'))).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
