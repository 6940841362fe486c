import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const tasks = join(fixtures, 'tasks.mjs');
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Wait until `proc` prints a line matching `pattern` (or fail after `ms`). */
function waitFor(proc: ChildProcess, pattern: RegExp, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} did not start within ${ms} ms. Output:\n${out}`));
    }, ms);
    const onData = (chunk: Buffer) => {
      out += chunk;
      if (pattern.test(out)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${what} exited (${code}) before it was ready. Output:\n${out}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      proc.stdout?.off('data', onData);
      proc.stderr?.off('data', onData);
      proc.off('exit', onExit);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', onExit);
  });
}

/** A real redis-server on a free loopback port, without persistence. */
export class RedisServer {
  proc?: ChildProcess;
  constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    await waitFor(proc, /Ready to accept connections/, 15_000, 'redis-server');
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    this.proc = undefined;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }
}

export interface WorkerProcess {
  proc: ChildProcess;
  id: string;
  countFile: string;
  output: () => string;
  stop(): Promise<void>;
}

/** `offthread-bullmq serve` in a child process, standing in for another machine. */
export async function startWorker(options: {
  redis: RedisServer;
  queue: string;
  id: string;
  threads?: number;
  root?: string;
  extra?: string[];
}): Promise<WorkerProcess> {
  const countFile = join(mkdtempSync(join(tmpdir(), 'offthread-bullmq-')), 'executions.log');
  const proc = spawn(
    process.execPath,
    [
      cli,
      'serve',
      '--queue',
      options.queue,
      '--root',
      options.root ?? fixtures,
      '--redis',
      options.redis.url,
      '--threads',
      String(options.threads ?? 2),
      '--id',
      options.id,
      ...(options.extra ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OFFTHREAD_TEST_COUNT_FILE: countFile },
    },
  );
  let out = '';
  proc.stdout?.on('data', (c) => (out += c));
  proc.stderr?.on('data', (c) => (out += c));
  await waitFor(proc, /serving queue/, 60_000, `worker ${options.id}`);
  return {
    proc,
    id: options.id,
    countFile,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Settle within `ms` or fail the test: nothing may hang. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function settle<T>(promise: Promise<T>) {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: error as Error & Record<string, unknown> }),
  );
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, any>> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error as Error & Record<string, any>;
  }
}
