import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { get } from '../support/http.js';
import { stageDir, stagedPackage } from '../support/stage.js';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const examples = join(packageDir, 'examples/readme');

/** The README's ```ts blocks; each starts with `// <file>`, a file under examples/readme. */
function readmeBlocks(): Array<{ file: string; code: string }> {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const blocks: Array<{ file: string; code: string }> = [];
  for (const [, body = ''] of readme.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const [first = '', ...rest] = body.split('\n');
    const file = /^\/\/ (\S+\.ts)\b/.exec(first)?.[1];
    blocks.push({ file: file ?? `(no file marker: ${first})`, code: rest.join('\n') });
  }
  return blocks;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Start an example app (prints "listening on <url>"); bounded. */
function startExample(main: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "listening on" after 60 s:\n${output}`)),
      60_000,
    );
    child.stderr!.on('data', (d) => (output += d));
    child.stdout!.on('data', (d) => {
      output += d;
      const listening = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (listening !== undefined) {
        clearTimeout(timer);
        resolve({ child, url: listening.replace('[::1]', '127.0.0.1').replace(/\/$/, '') });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening:\n${output}`));
    });
  });
}

describe('README samples are files that are compiled and run', { timeout: 90_000 }, () => {
  it('every ts block of the README is, verbatim, a file under examples/readme', () => {
    const blocks = readmeBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const { file, code } of blocks) {
      expect(file).toMatch(/\.ts$/);
      expect(readFileSync(join(examples, file), 'utf8')).toBe(code);
    }
  });

  it.each([
    ['CommonJS (tsc, the Nest CLI default up to Nest 11)', 'readme'],
    ['ES modules (Nest 12 `nest new`)', 'readme-esm'],
  ])(
    'the example app, compiled as %s, serves GET /reports/:limit and stops on SIGTERM',
    async (_, dir) => {
      const { child, url } = await startExample(join(stageDir, 'examples', dir, 'main.js'));
      const reply = await get(`${url}/reports/100000`);
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ primes: '9,592' });
      child.kill('SIGTERM');
      // enableShutdownHooks() closes the app, then re-raises the signal: exit by SIGTERM, not a crash.
      const [code, signal] = await once(child, 'exit');
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    },
  );

  it('the forRootAsync example takes THREADS="3" from the environment', async () => {
    process.env.THREADS = '3';
    try {
      const { NestFactory } = stagedPackage<typeof import('@nestjs/core')>('@nestjs/core');
      const { ConfiguredAppModule } = stagedPackage<{ ConfiguredAppModule: never }>(
        join(stageDir, 'examples/readme/config.module.js'),
      );
      const app = await NestFactory.createApplicationContext(ConfiguredAppModule, {
        logger: false,
        abortOnError: false,
      });
      try {
        expect(
          app.get<{ options: { maxThreads: number } }>('offthread:pool').options.maxThreads,
        ).toBe(3);
      } finally {
        await app.close();
      }
    } finally {
      delete process.env.THREADS;
    }
  });
});
