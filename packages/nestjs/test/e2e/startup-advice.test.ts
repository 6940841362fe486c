import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type * as Globals from '../fixtures/globals/globals.js';
import { fixture, stageDir } from '../support/stage.js';

/** Run a script as a process of its own; resolves with its exit code and output (bounded). */
function runScript(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], {
      cwd: stageDir,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} still running after 60 s:\n${output}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

// Each case starts a Node process of its own: generous bounds for a loaded machine.
describe('start-up advice for app layouts threads cannot load', { timeout: 90_000 }, () => {
  it('a worker module exported from the entry file fails start-up instead of re-running bootstrap() in every thread', async () => {
    const { code, output } = await runScript(join(stageDir, 'fixtures/entry/main.js'));
    expect(code).not.toBe(0);
    expect(output).toMatch(
      /EchoModule is exported from .*main\.js, the file that starts the application/,
    );
    expect(output).toMatch(/Move EchoModule to a file of its own/);
    expect(output).not.toMatch(/listening on http/);
  });

  it('a CommonJS bundle fails start-up with advice for bundles, never exit 0 and never import.meta.url', async () => {
    const esbuild = await import('esbuild');
    const outfile = join(stageDir, 'fixtures/bundle/dist/main.js');
    await esbuild.build({
      entryPoints: [fileURLToPath(new URL('../fixtures/bundle/main.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile,
      external: ['@nestjs/*', '@offthread/*', 'reflect-metadata', 'rxjs', 'class-transformer'],
      tsconfigRaw: { compilerOptions: { experimentalDecorators: true } },
      logLevel: 'silent',
    });
    const { code, output } = await runScript(outfile);
    expect(code).not.toBe(0);
    expect(output).toMatch(/BundledEchoService is defined inside the bundle/);
    expect(output).toMatch(/"builder": "tsc" or "swc"/);
    expect(output).not.toMatch(/import\.meta\.url/);
    expect(output).not.toMatch(/listening on http/);
  });

  it('a dependency the app gets from a global module names the module the worker module must import', async () => {
    const error = await fixture<typeof Globals>('globals/globals.js').startupError();
    expect(error.message).toMatch(
      /ConfigService comes from ConfigModule, a global module of the app/,
    );
    expect(error.message).toMatch(/GreetingModule must import ConfigModule itself/);
  });
});
