import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemotePool } from '../src/index.js';
import {
  fixtures,
  RedisServer,
  settle,
  startWorker,
  tasks,
  type WorkerProcess,
  within,
} from './helpers.js';

let redis: RedisServer;
let workers: [victim: WorkerProcess, survivor: WorkerProcess];
let pool: RemotePool;
let queue = 'exit';
let round = 0;

beforeEach(async () => {
  queue = `exit${++round}`;
  redis ??= await RedisServer.start();
  workers = await Promise.all([
    startWorker({ redis, queue, id: 'victim' }),
    startWorker({ redis, queue, id: 'survivor' }),
  ]);
  pool = new RemotePool({ queue, root: fixtures, connection: redis.url, filename: tasks });
  await pool.connect();
});

afterEach(async () => {
  await pool?.destroy();
  await Promise.all(workers.map((w) => w.stop()));
});

afterAll(async () => {
  await redis?.stop();
});

function executions(w: WorkerProcess): number[] {
  try {
    return readFileSync(w.countFile, 'utf8').trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function killVictimMidTask(): Promise<void> {
  const [victim] = workers;
  await within(
    (async () => {
      while (executions(victim).length < 2) await new Promise((r) => setTimeout(r, 20));
    })(),
    30_000,
    'the victim starting tasks',
  );
  victim.proc.kill('SIGKILL');
}

describe('a worker process killed with SIGKILL mid-task', () => {
  it('fails its running tasks with ERR_OFFTHREAD_WORKER_EXIT; the rest finish on the other worker, none runs twice', async () => {
    const n = 40;
    let lastExit = 0;
    const calls = Array.from({ length: n }, (_, i) =>
      settle(pool.run({ i, ms: 400 }, { name: 'record' })).then((r) => {
        if (!r.ok) lastExit = performance.now();
        return r;
      }),
    );
    await killVictimMidTask();
    const killedAt = performance.now();
    const results = await within(Promise.all(calls), 60_000, 'every call after the kill');
    // Reported, not asserted (timing on a shared machine): how soon callers learned of the death.
    console.log(`worker death noticed ${Math.round(lastExit - killedAt)} ms after SIGKILL`);
    const failed = results.flatMap((r, i) => (r.ok ? [] : [{ i, error: r.error }]));
    const done = results.flatMap((r) => (r.ok ? [r.value] : []));
    expect(failed.length).toBeGreaterThan(0);
    for (const { error } of failed) expect(error.code).toBe('ERR_OFFTHREAD_WORKER_EXIT');
    const [victim, survivor] = workers;
    for (const value of done) expect(value.pid).toBe(survivor.proc.pid);
    // At most once: nothing the victim started was run again by the survivor.
    const ranOnSurvivor = executions(survivor);
    expect(new Set(ranOnSurvivor).size).toBe(ranOnSurvivor.length);
    for (const i of executions(victim)) expect(ranOnSurvivor).not.toContain(i);
    expect(done.length + failed.length).toBe(n);
  });

  it('with attempts opted in, its tasks are retried on the other worker', async () => {
    const n = 20;
    const calls = Array.from({ length: n }, (_, i) =>
      settle(pool.run({ i, ms: 400 }, { name: 'record', attempts: 2, backoff: 10 })),
    );
    await killVictimMidTask();
    const results = await within(Promise.all(calls), 60_000, 'every call after the kill');
    for (const r of results) expect(r.ok).toBe(true);
    const [, survivor] = workers;
    for (const r of results)
      expect((r as { value: { pid: number } }).value.pid).toBe(survivor.proc.pid);
  });
});
