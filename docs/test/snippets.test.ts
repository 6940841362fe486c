/**
 * Runs the code samples the site shows (docs/snippets), against the built packages, and checks
 * what they print or serve. Type-only samples are covered by `pnpm typecheck`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { buildNestSnippets } from './nest-build.js';

const snippets = fileURLToPath(new URL('../snippets', import.meta.url));
/** Run a snippet with node; on failure the error carries the snippet's stderr. */
async function run(file: string, args: string[] = []): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(snippets, file), ...args],
      {
        timeout: 60_000,
      },
    );
    return stdout;
  } catch (error) {
    const { stderr = '', stdout = '' } = error as { stderr?: string; stdout?: string };
    throw new Error(`node ${file} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}

/** Start a server snippet on a free port and resolve with its URL (it prints "listening on <url>"). */
async function start(
  command: string[],
  cwd: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, command, {
    cwd,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "listening on" after 30 s:\n${output}`)),
      30_000,
    );
    child.stdout!.on('data', (d) => {
      output += d;
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening:\n${output}`)));
  });
  return { child, url };
}
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('core snippets', () => {
  it('app.mjs prints what the page says', async () => {
    expect(await run('core/app.mjs')).toBe('64 3\n4\n');
  });
  it('cancel.mjs aborts, times out, then completes', async () => {
    expect(await run('core/cancel.mjs')).toBe("aborted\ntimed out\n[ 'page 1', 'page 2' ]\n");
  });
  it('transfer.mjs moves the buffer both ways', async () => {
    expect(await run('core/transfer.mjs')).toBe('0 16777216 248\n');
  });
  it('stats.mjs reports 20 completed tasks', async () => {
    expect(await run('core/stats.mjs')).toMatch(/completed: 20/);
  });
  it('recycle.mjs recycles the thread every 10 tasks without failing any', async () => {
    expect(await run('core/recycle.mjs')).toBe(
      'a thread was recycled (maxTasksPerThread) after 10 tasks\n'.repeat(2) +
        'true threadsRecycled: 2\n',
    );
  });
  it('broadcast.mjs reconfigures every thread', async () => {
    expect(await run('core/broadcast.mjs')).toBe('2 fulfilled fulfilled\nbonjour, Ada\n');
  });
  it('progress.mjs reports progress before the result', async () => {
    expect(await run('core/progress.mjs')).toBe('25%\n50%\n75%\n100%\nimported 1000\n');
  });
  it('stream.mjs streams rows, stops the generator on break, and gets the return value', async () => {
    // The thread's console.log reaches stdout through its own channel: order it out.
    const lines = (await run('core/stream.mjs')).trim().split('\n');
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([
      '{ id: 1, square: 1 }',
      '{ id: 2, square: 4 }',
      '{ id: 3, square: 9 }',
    ]);
    expect(lines.filter((line) => line === 'generator closed')).toHaveLength(2);
    expect(lines).toContain('returned 2 rows');
  });
  it('process.mjs: a task that aborts its child process fails alone', async () => {
    expect(await run('core/process.mjs')).toBe(
      'FIRST\nERR_OFFTHREAD_WORKER_EXIT SIGABRT\nTHIRD\nprocesses replaced: 1\n',
    );
  });
  it('context.mjs: the task span is a child of the request span; the request id crosses', async () => {
    // The thread's console output reaches stdout on its own channel: compare lines, not order.
    const lines = (await run('core/context.mjs')).trim().split('\n').sort();
    expect(lines).toEqual([
      '[req-7] building 1000 rows',
      '[req-7] handling the request',
      'parent is the request span: true',
      'same trace: true',
    ]);
  });
  it('tuning/cluster.mjs divides the threads among processes', async () => {
    expect(await run('tuning/cluster.mjs')).toMatch(/2 processes: maxThreads \d+/);
  });
});

describe('express snippets', () => {
  it('server.mjs serves every route and shuts down on SIGTERM', async () => {
    const { child, url } = await start(['server.mjs'], join(snippets, 'express'));
    await expect((await fetch(`${url}/fib?n=20`)).json()).resolves.toEqual({ n: 20, result: 6765 });
    await expect((await fetch(`${url}/fib-blocking?n=20`)).json()).resolves.toEqual({
      n: 20,
      result: 6765,
    });
    const report = await fetch(`${url}/report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: [{ price: 2, qty: 3 }] }),
    });
    expect(report.status).toBe(201);
    expect(report.headers.get('content-type')).toMatch(/text\/csv/);
    expect(await report.text()).toBe('id,total\n0,6');
    expect(await (await fetch(`${url}/export.csv?rows=3`)).text()).toBe(
      'id,square\n0,0\n1,1\n2,4\n',
    );
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
  it('health-under-load.mjs measures /health while a route is loaded', async () => {
    const out = JSON.parse(await run('express/health-under-load.mjs', ['/fib?n=20', '1', '2']));
    expect(out.requestsPerSecond).toBeGreaterThan(0);
    expect(out.healthChecks).toBeGreaterThan(0);
  });
});

describe('home page snippet', () => {
  it('home/server.mjs answers the same from the blocking and the off-thread route', async () => {
    const { child, url } = await start(['server.mjs'], join(snippets, 'home'));
    await expect((await fetch(`${url}/fib?n=20`)).json()).resolves.toEqual({ result: 6765 });
    await expect((await fetch(`${url}/fib-blocking?n=20`)).json()).resolves.toEqual({
      result: 6765,
    });
    await expect((await fetch(`${url}/health`)).json()).resolves.toEqual({ ok: true });
    child.kill('SIGKILL');
  });
});

describe('diagnostics snippets', () => {
  it('monitor.mjs reports the 200 ms block', async () => {
    expect(await run('diagnostics/monitor.mjs')).toMatch(/blocks since start: [1-9]/);
  });
  it('verdict.mjs diagnoses a blocked event loop', async () => {
    expect(await run('diagnostics/verdict.mjs')).toMatch(/^event-loop-blocked\n/);
  });
});

describe('why page', () => {
  it('measure.mjs runs (quick sizes)', async () => {
    const out = JSON.parse(await run('why/measure.mjs', ['--quick']));
    expect(out.threadpool).toHaveLength(4);
    expect(out.speedup.threads).toBeGreaterThan(0);
  });
});

describe('nestjs snippets', () => {
  it('compile to CommonJS, start, and answer through an @OffThread() method', async () => {
    const dir = buildNestSnippets();
    const { child, url } = await start(['main.js'], dir);
    const res = await fetch(`${url}/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { price: 250, qty: 3 },
        { price: 100, qty: 1 },
      ]),
    });
    expect(res.status).toBe(201);
    await expect(res.json()).resolves.toEqual({ count: 2, total: '$8.50' });
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
});
