import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bin = join(root, 'bin', 'offthread.js');
export const fixture = (name: string) => join(root, 'test', 'fixtures', name);

if (!existsSync(join(root, 'dist', 'cli', 'index.js'))) {
  throw new Error(
    'dist/ is missing: run `pnpm --filter @offthread/diagnostics build` before the tests',
  );
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the `offthread` CLI with `process.execPath` (so CI's Node version is the one tested). */
export function runCli(
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    timeout?: number;
    cwd?: string;
    onSpawn?: (child: ChildProcess) => void;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd ?? root,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`offthread ${args.join(' ')} timed out\nstdout:\n${stdout}\nstderr:\n${stderr}`),
      );
    }, opts.timeout ?? 25_000);
    opts.onSpawn?.(child);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `node` as the target command: the same binary that runs the tests. */
export const node = process.execPath;
