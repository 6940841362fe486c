import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OffThreadErrorCode, Pool, registerError, transfer } from '@offthread/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from './fixtures/errors.mjs';
import { createPool, fixture, rejectionOf, waitFor } from './helpers.js';

// Real child processes: each test forks node processes, aborts and kills them.
const tasks = fixture('process-tasks.mjs');
const dir = mkdtempSync(join(tmpdir(), 'offthread-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const logFile = () => {
  const file = join(dir, `log-${files++}.txt`);
  writeFileSync(file, '');
  return file;
};
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

function processPool(options: ConstructorParameters<typeof Pool>[0] = {}): Pool {
  return createPool({
    filename: tasks,
    runtime: 'process',
    minThreads: 1,
    maxThreads: 1,
    ...options,
  });
}

/** Does a process with this pid exist (or is it still a zombie nobody reaped)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ESRCH');
    return false;
  }
}

describe("runtime: 'process'", () => {
  it('runs tasks in a child process, not in this one', async () => {
    const pool = processPool();
    const pid = await pool.run(undefined, { name: 'pid' });
    expect(pid).not.toBe(process.pid);
    expect(await pool.run({ a: 2, b: 3 }, { name: 'add' })).toBe(5);
    // Structured clone, as between threads.
    const value = { when: new Date(0), map: new Map([[1, 'a']]), bytes: new Uint8Array([1, 2]) };
    expect(await pool.run(value, { name: 'echo' })).toEqual(value);
  });

  it('thousands of tiny tasks sent ahead to one busy process all come back right', async () => {
    const pool = processPool({ maxQueue: Number.POSITIVE_INFINITY });
    const results = await Promise.all(
      Array.from({ length: 5000 }, (_, i) => pool.run({ a: i, b: 1 }, { name: 'add' })),
    );
    expect(results).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(pool.stats().completed).toBe(5000);
  });

  it('a task that calls process.abort() fails alone; the host survives and the next task runs in a fresh process', async () => {
    const pool = processPool();
    const exits: { threadId: number; exitCode: number; reason: string }[] = [];
    pool.on('threadExit', (event) => exits.push(event));
    const before = await pool.run(undefined, { name: 'pid' });
    const error = await rejectionOf(pool.run(undefined, { name: 'abort' }));
    expect(error.code).toBe(OffThreadErrorCode.WORKER_EXIT);
    expect(error.message).toContain(`child process (pid ${before})`);
    expect(error.message).toContain('SIGABRT');
    expect(error.exitCode).toBe(134);
    expect(error.task).toBe('abort');
    const after = await pool.run(undefined, { name: 'pid' });
    expect(after).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(exits).toEqual([{ threadId: before, exitCode: 134, reason: 'crash' }]);
    expect(pool.stats().threadsReplaced).toBe(1);
  });

  it.each([
    ['SIGSEGV', 139],
    ['SIGKILL', 137],
  ])('a task whose process dies of %s fails with the signal in its error', async (name, code) => {
    const pool = processPool();
    const error = await rejectionOf(pool.run(name, { name: 'signal' }));
    expect(error.code).toBe(OffThreadErrorCode.WORKER_EXIT);
    expect(error.message).toContain(`killed by signal ${name}`);
    expect(error.exitCode).toBe(code);
    expect(await pool.run({ a: 1, b: 1 }, { name: 'add' })).toBe(2);
  });

  it('a task that calls process.exit() fails with the exit code', async () => {
    const pool = processPool();
    const error = await rejectionOf(pool.run(3, { name: 'exit' }));
    expect(error.code).toBe(OffThreadErrorCode.WORKER_EXIT);
    expect(error.message).toContain('exited with code 3');
    expect(error.exitCode).toBe(3);
  });

  it('an uncaught error that ends the process fails the task with that error as cause', async () => {
    const pool = processPool();
    const error = await rejectionOf(pool.run('late failure', { name: 'throwLater' }));
    expect(error.code).toBe(OffThreadErrorCode.WORKER_EXIT);
    expect(error.message).toContain('crashed with an uncaught TypeError: late failure');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it('errors thrown by tasks cross with their class, code and own properties', async () => {
    registerError(ValidationError);
    const pool = processPool();
    const errors = fixture('errors.mjs');
    const builtin = await rejectionOf(
      pool.run(undefined, { filename: errors, name: 'throwBuiltin' }),
    );
    expect(builtin).toBeInstanceOf(RangeError);
    expect(builtin.code).toBe('E_RANGE');
    const custom = await rejectionOf(
      pool.run(undefined, { filename: errors, name: 'throwCustom' }),
    );
    expect(custom).toBeInstanceOf(ValidationError);
    expect(custom.field).toBe('email');
    expect(custom.status).toBe(422);
    expect(custom.stack).not.toMatch(/process-entry/);
    const caused = await rejectionOf(
      pool.run(undefined, { filename: errors, name: 'throwWithCause' }),
    );
    expect(caused.cause).toBeInstanceOf(SyntaxError);
    const missing = await rejectionOf(pool.run(undefined, { name: 'noSuchExport' }));
    expect(missing.code).toBe(OffThreadErrorCode.TASK_NOT_FOUND);
  });

  it('a timeout kills a process stuck in a synchronous loop; the pool replaces it', async () => {
    const pool = processPool({ abortGracePeriod: 100 });
    const stuck = await pool.run(undefined, { name: 'pid' });
    const error = await rejectionOf(pool.run(undefined, { name: 'spin', timeout: 200 }));
    expect(error.code).toBe(OffThreadErrorCode.TIMEOUT);
    await waitFor(() => !alive(stuck));
    expect(await pool.run(undefined, { name: 'pid' })).not.toBe(stuck);
  });

  it('aborting a task fires currentTask().signal in the child, which stops in time and is kept', async () => {
    const pool = processPool({ abortGracePeriod: 5000 });
    const pid = await pool.run(undefined, { name: 'pid' });
    const log = logFile();
    const controller = new AbortController();
    let started!: () => void;
    const running = pool.run(log, {
      name: 'waitForAbort',
      signal: controller.signal,
      onProgress: () => started(),
    });
    // Wait until the task runs in the child (it reports progress first).
    await new Promise<void>((resolve) => {
      started = resolve;
    });
    controller.abort(new Error('user left'));
    const error = await rejectionOf(running);
    expect(error.code).toBe(OffThreadErrorCode.ABORTED);
    await waitFor(() => lines(log).length > 0);
    expect(lines(log)).toEqual([`aborted ${pid} ERR_OFFTHREAD_ABORTED`]);
    // It stopped by itself: the same process takes the next task.
    expect(await pool.run(undefined, { name: 'pid' })).toBe(pid);
  });

  it('tasks waiting in the pool for a busy process can be aborted without touching it', async () => {
    const pool = processPool();
    const pid = await pool.run(undefined, { name: 'pid' });
    const log = logFile();
    const first = new AbortController();
    const running = pool.run(log, { name: 'waitForAbort', signal: first.signal });
    const queued = new AbortController();
    const waiting = pool.run(undefined, { name: 'pid', signal: queued.signal });
    queued.abort();
    expect((await rejectionOf(waiting)).code).toBe(OffThreadErrorCode.ABORTED);
    first.abort();
    await rejectionOf(running);
    expect(await pool.run(undefined, { name: 'pid' })).toBe(pid);
  });

  it('close() and destroy() leave no child process behind', async () => {
    const started: number[] = [];
    const pool = processPool({ minThreads: 2, maxThreads: 2 });
    pool.on('threadStart', ({ threadId }) => started.push(threadId));
    await Promise.all(Array.from({ length: 8 }, (_, i) => pool.run(i, { name: 'echo' })));
    await waitFor(() => started.length === 2);
    await pool.close();
    for (const pid of started) expect(alive(pid)).toBe(false);

    const busy: number[] = [];
    const other = processPool({ minThreads: 2, maxThreads: 2 });
    other.on('threadStart', ({ threadId }) => busy.push(threadId));
    const spinning = rejectionOf(other.run(undefined, { name: 'spin' }));
    await waitFor(() => busy.length === 2);
    await other.destroy();
    expect((await spinning).code).toBe(OffThreadErrorCode.POOL_CLOSED);
    for (const pid of busy) expect(alive(pid)).toBe(false);
  });

  it('a child stuck in a synchronous loop exits when the process that owns its pool is killed', async () => {
    // The host (test/fixtures/process-host.mjs) prints its child's pid once the child spins.
    const host = spawn(process.execPath, [fileURLToPath(fixture('process-host.mjs'))], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [chunk] = (await once(host.stdout, 'data')) as [Buffer];
    const child = Number(String(chunk).trim());
    expect(alive(child)).toBe(true);
    host.kill('SIGKILL');
    // 'disconnect' cannot reach a busy child; its watchdog thread sees the parent change.
    await waitFor(() => !alive(child), 15_000);
  });

  it('the CommonJS build starts its children too', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [fileURLToPath(fixture('process-cjs.cjs'))],
      { timeout: 30_000 },
    );
    expect(stdout).toBe('true\n');
  });

  it('runs a TypeScript task file', async () => {
    const pool = processPool({ filename: fixture('ts-task.ts') });
    expect(await pool.run('process', {})).toBe('hello process');
    expect(await pool.run({ x: 3, y: 4 }, { name: 'length' })).toBe(5);
  });

  it('passes workerData, env, execArgv and the heap limit to the child', async () => {
    const pool = processPool({
      workerData: { region: 'eu', at: new Date(5) },
      env: { OFFTHREAD_PROCESS_TEST: 'yes' },
      execArgv: ['--no-warnings'],
      resourceLimits: { maxOldGenerationSizeMb: 96 },
    });
    expect(await pool.run(undefined, { name: 'workerData' })).toEqual({
      region: 'eu',
      at: new Date(5),
    });
    expect(await pool.run('OFFTHREAD_PROCESS_TEST', { name: 'env' })).toBe('yes');
    expect(await pool.run(undefined, { name: 'execArgv' })).toEqual([
      '--no-warnings',
      '--max-old-space-size=96',
    ]);
    const limit = await pool.run(undefined, { name: 'heapLimitMb' });
    // The old generation's 96 MB plus the young generation (sized by V8 per version); Node's
    // default is in the gigabytes.
    expect(limit).toBeGreaterThanOrEqual(96);
    expect(limit).toBeLessThan(512);
  });

  it('proxy, preload, progress, broadcast and recycling work as with threads', async () => {
    const pool = processPool({ maxTasksPerThread: 3 });
    const recycled: unknown[] = [];
    pool.on('threadRecycled', (event) => recycled.push(event));
    await pool.preload({ names: ['add', 'pid'] });
    const proxy = pool.proxy<{ add(sum: { a: number; b: number }): number }>();
    expect(await proxy.add({ a: 4, b: 5 })).toBe(9);
    const reports: number[] = [];
    expect(await pool.run(3, { name: 'progress', onProgress: (n) => reports.push(n) })).toBe(
      'done',
    );
    expect(reports).toEqual([1, 2, 3]);
    const results = await pool.broadcast(undefined, { name: 'pid' });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ status: 'fulfilled' });
    expect((results[0] as { value: number }).value).toBe(results[0]?.threadId);
    expect(recycled.length).toBeGreaterThanOrEqual(1);
    expect(recycled[0]).toMatchObject({ reason: 'maxTasksPerThread', tasks: 3 });
    expect(pool.stats().threadsRecycled).toBeGreaterThanOrEqual(1);
  });

  it('recycles a process whose heap passes maxThreadHeapMb, without failing a task', async () => {
    const pool = processPool({ maxThreadHeapMb: 1 });
    const recycled: { reason: string; heapUsedMb?: number }[] = [];
    pool.on('threadRecycled', (event) => recycled.push(event));
    const first = await pool.run(undefined, { name: 'pid' });
    await waitFor(() => recycled.length === 1);
    expect(recycled[0]?.reason).toBe('maxThreadHeapMb');
    expect(recycled[0]?.heapUsedMb).toBeGreaterThan(1);
    expect(await pool.run(undefined, { name: 'pid' })).not.toBe(first);
  });

  it('a child that cannot start (a flag node refuses) fails waiting tasks with WORKER_INIT', async () => {
    const pool = processPool({ execArgv: ['--no-such-flag'] });
    const failures: { error: { message: string } }[] = [];
    pool.on('threadStartFailed', (event) => failures.push(event));
    const error = await rejectionOf(pool.run(1, { name: 'echo' }));
    expect(error.code).toBe(OffThreadErrorCode.WORKER_INIT);
    expect(error.message).toMatch(
      /could not start a child process: child process \(pid \d+\) exited with code 9 while starting/,
    );
    expect(failures.length).toBeGreaterThanOrEqual(1);
  });

  it('transfer() copies over IPC: the caller keeps its buffer', async () => {
    const pool = processPool();
    const bytes = new Uint8Array(1024);
    expect(await pool.run(transfer(bytes, [bytes.buffer]), { name: 'transferred' })).toBe(1024);
    expect(bytes.byteLength).toBe(1024);
  });

  it('an argument that cannot be copied fails only its task, with ERR_OFFTHREAD_UNCLONEABLE', async () => {
    const pool = processPool();
    const error = await rejectionOf(pool.run({ fn() {} }, { name: 'echo' }));
    expect(error.code).toBe(OffThreadErrorCode.UNCLONEABLE);
    expect(await pool.run(1, { name: 'echo' })).toBe(1);
  });

  it('pool.stream() works over processes: order, return value, backpressure, break runs finally', async () => {
    const pool = processPool();
    const log = logFile();
    const stream = pool.stream({ count: 3, logFile: log }, { name: 'numbers' });
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    expect(await stream.next()).toEqual({ done: false, value: 2 });
    expect(await stream.next()).toEqual({ done: true, value: 'done' });

    const slow = logFile();
    let consumed = 0;
    for await (const value of pool.stream(
      { count: 1000, logFile: slow },
      { name: 'numbers', window: 4 },
    )) {
      expect(value).toBe(consumed++);
      // A slow consumer: the child must not run more than `window` values ahead.
      if (consumed % 25 === 1) await new Promise((resolve) => setTimeout(resolve, 30));
      const produced = lines(slow).filter((line) => line.startsWith('produced')).length;
      expect(produced - consumed).toBeLessThanOrEqual(4 + 1);
      if (consumed === 100) break;
    }
    // return() resolves once the child ended the task: its finally has run.
    expect(lines(slow).at(-1)).toBe('finally');
    expect(await pool.run({ a: 1, b: 1 }, { name: 'add' })).toBe(2);
    expect(pool.stats().threadsReplaced).toBe(0);
  });

  it('a process that aborts mid-stream fails the stream with WORKER_EXIT after the values before it', async () => {
    const pool = processPool();
    const log = logFile();
    const values: number[] = [];
    let error: any;
    try {
      for await (const value of pool.stream(
        { count: 10, logFile: log, abortAt: 3 },
        { name: 'numbers', window: 1 },
      ))
        values.push(value as number);
    } catch (caught) {
      error = caught;
    }
    expect(values).toEqual([0, 1, 2]);
    expect(error.code).toBe(OffThreadErrorCode.WORKER_EXIT);
    expect(error.message).toContain('SIGABRT');
    // Not re-run: the log shows one run up to the abort.
    expect(lines(log)).toEqual(['produced 0', 'produced 1', 'produced 2', 'produced 3']);
    expect(await pool.run({ a: 1, b: 2 }, { name: 'add' })).toBe(3);
  });

  it('never runs a task twice and never leaves a promise pending under chaos', async () => {
    // Tasks that abort or exit their process, throw or hang past their timeout, mixed with good
    // ones sent in bursts (so some wait in the pool for a process that then dies). Every task
    // logs its id when it starts: the log, written by every child, counts executions.
    const log = logFile();
    const pool = processPool({ maxThreads: 2, minThreads: 2, abortGracePeriod: 50 });
    const kinds = ['ok', 'ok', 'abort', 'ok', 'throw', 'ok', 'exit', 'async', 'ok', 'hang'];
    const plan = Array.from({ length: 60 }, (_, id) => ({
      id,
      what: kinds[(id * 7) % kinds.length],
    }));
    const settled = await Promise.race([
      Promise.allSettled(
        plan.map(({ id, what }) =>
          pool.run(
            { id, what, logFile: log },
            what === 'hang' ? { name: 'chaos', timeout: 300 } : { name: 'chaos' },
          ),
        ),
      ),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('a promise hung')), 60_000).unref(),
      ),
    ]);
    const runs = new Map<number, number>();
    for (const line of lines(log)) runs.set(Number(line), (runs.get(Number(line)) ?? 0) + 1);
    for (const [id, count] of runs) expect({ id, count }).toEqual({ id, count: 1 });
    for (const [i, outcome] of settled.entries()) {
      const { what } = plan[i] as { what: string };
      // One task at a time per process: a crash can only fail the task that caused it.
      if (what === 'ok' || what === 'async') {
        expect(outcome).toEqual({ status: 'fulfilled', value: i });
        continue;
      }
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      const expected = {
        abort: OffThreadErrorCode.WORKER_EXIT,
        exit: OffThreadErrorCode.WORKER_EXIT,
        throw: 'E_QUOTA',
        hang: OffThreadErrorCode.TIMEOUT,
      }[what as 'abort'];
      expect({ what, code: reason.code }).toEqual({ what, code: expected });
      // Every task that failed in its process did start, once.
      expect(runs.get(i)).toBe(1);
    }
    expect(await pool.run({ a: 1, b: 2 }, { name: 'add' })).toBe(3);
  });

  it('with several tasks per process, a crash fails the tasks running there but never re-runs one', async () => {
    const log = logFile();
    const pool = processPool({ maxThreads: 2, minThreads: 2, concurrentTasksPerWorker: 3 });
    const plan = Array.from({ length: 40 }, (_, id) => ({
      id,
      what: id % 9 === 4 ? 'abort' : id % 11 === 5 ? 'exit' : 'async',
    }));
    const settled = await Promise.allSettled(
      plan.map(({ id, what }) => pool.run({ id, what, logFile: log }, { name: 'chaos' })),
    );
    const runs = new Map<number, number>();
    for (const line of lines(log)) runs.set(Number(line), (runs.get(Number(line)) ?? 0) + 1);
    for (const count of runs.values()) expect(count).toBe(1);
    for (const [i, outcome] of settled.entries()) {
      if (outcome.status === 'fulfilled') expect(outcome.value).toBe(i);
      else {
        expect(outcome.reason.code).toBe(OffThreadErrorCode.WORKER_EXIT);
        // A task that failed because its process died had been written to it: it may have run.
        expect(runs.get(i) ?? 0).toBeLessThanOrEqual(1);
      }
      if (plan[i]?.what !== 'async') expect(outcome.status).toBe('rejected');
    }
  });

  it('rejects an unknown runtime with a TypeError naming options.runtime, and limits processes cannot honour', () => {
    expect(() => new Pool({ filename: tasks, runtime: 'processes' as never })).toThrow(
      /options\.runtime must be 'thread' .* or 'process'.*got "processes"/,
    );
    expect(
      () => new Pool({ filename: tasks, runtime: 'process', resourceLimits: { stackSizeMb: 8 } }),
    ).toThrow(TypeError);
    expect(
      () =>
        new Pool({ filename: tasks, runtime: 'process', resourceLimits: { codeRangeSizeMb: 8 } }),
    ).toThrow(/options\.resourceLimits\.codeRangeSizeMb is not supported with runtime: 'process'/);
  });
});
