import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The README's js blocks, each a file named by its first-line comment (`// server.js`). */
function readmeFiles(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const files = new Map<string, string>();
  for (const [, code = ''] of readme.matchAll(/```js\n([\s\S]*?)```/g)) {
    const name = /^\/\/ ([\w./-]+\.c?js)\b/.exec(code)?.[1];
    if (!name) throw new Error(`a README sample does not start with its file name:\n${code}`);
    files.set(name, code);
  }
  return files;
}

/** Start a README server in `dir` on a free port; resolves with its URL. */
async function start(dir: string, file: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { ...process.env, PORT: '0', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on":\n${output}`)), 30_000);
    child.stdout!.on('data', (d) => {
      output += d;
      const listening = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (listening !== undefined) {
        clearTimeout(timer);
        resolve(listening.replace('localhost', '127.0.0.1'));
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
  });
  return { child, url };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  return code as number | null;
}

describe('README samples', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'offthread-express-readme-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    for (const [name, code] of readmeFiles()) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), code);
    }
    // The samples import the packages as a user's app would.
    mkdirSync(join(dir, 'node_modules/@offthread'), { recursive: true });
    symlinkSync(root, join(dir, 'node_modules/@offthread/express'));
    symlinkSync(
      realpathSync(join(root, 'node_modules/@offthread/core')),
      join(dir, 'node_modules/@offthread/core'),
    );
    symlinkSync(
      realpathSync(join(root, 'node_modules/express')),
      join(dir, 'node_modules/express'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are the files the README shows', () => {
    expect([...readmeFiles().keys()]).toEqual([
      'handlers/report.js',
      'handlers/export-csv.js',
      'server.js',
      'server.cjs',
    ]);
  });

  it('server.js serves the report, the CSV stream, /health and /status, and stops on SIGTERM', async () => {
    const { child, url } = await start(dir, 'server.js');
    try {
      const report = await fetch(`${url}/reports?rows=50`, { method: 'POST' });
      expect(report.status).toBe(201);
      expect(report.headers.get('x-rows')).toBe('50');
      expect(await report.json()).toMatchObject({ rows: 50, total: expect.any(Number) });
      const csv = await fetch(`${url}/export.csv?rows=3`);
      expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
      expect(await csv.text()).toBe('id,square\n0,0\n1,1\n2,4\n');
      expect(await (await fetch(`${url}/health`)).json()).toEqual({
        ok: true,
        underPressure: false,
      });
      expect((await fetch(`${url}/status`)).status).toBe(200);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('server.cjs serves the report from CommonJS', async () => {
    const { child, url } = await start(dir, 'server.cjs');
    try {
      const report = await fetch(`${url}/reports?rows=5`, { method: 'POST' });
      expect(report.status).toBe(201);
      expect(await report.json()).toMatchObject({ rows: 5 });
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
});
