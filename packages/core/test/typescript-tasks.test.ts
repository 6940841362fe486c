import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPool, fixture } from './helpers.js';

describe('TypeScript task files', () => {
  it('run, natively where Node strips types and through tsx on Node 20', async () => {
    const pool = createPool({ filename: fixture('ts-task.ts'), maxThreads: 1 });
    expect(await pool.run('ts')).toBe('hello ts');
    expect(await pool.run({ x: 3, y: 4 }, { name: 'length' })).toBe(5);
  });

  it.skipIf((process.features as { typescript?: unknown }).typescript)(
    'without tsx, fail with an error that says what to install',
    () => {
      // A copy of the built package where tsx cannot be resolved, as in an app that lacks it.
      const dir = mkdtempSync(join(tmpdir(), 'offthread-no-tsx-'));
      cpSync(new URL('../dist', import.meta.url), join(dir, 'dist'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      cpSync(fixture('ts-task.ts'), join(dir, 'task.ts'));
      const script = `
        import { Pool } from './dist/index.js';
        const pool = new Pool({ filename: ${JSON.stringify(join(dir, 'task.ts'))}, maxThreads: 1 });
        try { console.log('resolved ' + await pool.run('x')); } catch (e) { console.log(e.code + ' ' + e.message); }
        await pool.close();
      `;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 20_000,
        // A plain environment: the test runner's own loaders must not leak into the app.
        env: { PATH: process.env.PATH },
      });
      expect(out).toMatch(/ERR_OFFTHREAD_WORKER_INIT/);
      expect(out).toMatch(/Install tsx \(npm install --save-dev tsx\)/);
    },
  );
});
