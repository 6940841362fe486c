import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemotePool } from '../src/index.js';
import { decodeOutcome, deserializeError } from '../src/wire.js';
import { RedisServer, rejection, startWorker, type WorkerProcess, within } from './helpers.js';

let redis: RedisServer;
let worker: WorkerProcess;
let callerRoot: string;
let workerRoot: string;
const queue = 'naming';

beforeAll(async () => {
  redis = await RedisServer.start();
  const base = mkdtempSync(join(tmpdir(), 'offthread-naming-'));
  callerRoot = join(base, 'caller');
  workerRoot = join(base, 'worker');
  for (const root of [callerRoot, workerRoot]) mkdirSync(root);
  // Same module on both sides, and one whose worker copy is an older build.
  for (const root of [callerRoot, workerRoot]) {
    writeFileSync(join(root, 'same.mjs'), 'export default (x) => x + 1;\n');
  }
  writeFileSync(join(callerRoot, 'changed.mjs'), 'export default (x) => x * 3;\n');
  writeFileSync(join(workerRoot, 'changed.mjs'), 'export default (x) => x * 2;\n');
  writeFileSync(join(base, 'secret.mjs'), 'export default () => "outside";\n');
  worker = await startWorker({ redis, queue, id: 'naming', threads: 1, root: workerRoot });
});

afterAll(async () => {
  await worker?.stop();
  await redis?.stop();
});

/** Add a hand-made job (what anyone with access to Redis could do) and read its outcome. */
async function rawJob(data: unknown): Promise<unknown> {
  const connection = { host: '127.0.0.1', port: redis.port };
  const q = new Queue(queue, { connection });
  // From the stream's start: with '$' an event written before the first read would be missed.
  const events = new QueueEvents(queue, { connection, lastEventId: '0-0' });
  try {
    await events.waitUntilReady();
    // Listen before adding: the worker removes a finished job at once.
    const jobId = randomUUID();
    const finished = new Promise<unknown>((resolve, reject) => {
      events.on('completed', (e) => e.jobId === jobId && resolve(e.returnvalue));
      events.on('failed', (e) => e.jobId === jobId && reject(new Error(e.failedReason)));
    });
    await q.add('raw', data, { jobId });
    const value = await within(finished, 30_000, 'raw job');
    const outcome = decodeOutcome(String(value));
    return outcome.ok ? outcome.v : deserializeError(outcome.e);
  } finally {
    await Promise.allSettled([q.close(), events.close()]);
  }
}

describe('task modules named between machines', () => {
  it('runs a module whose worker copy is the same', async () => {
    const pool = new RemotePool({ queue, root: callerRoot, connection: redis.url });
    try {
      expect(await pool.run(1, { filename: join(callerRoot, 'same.mjs') })).toBe(2);
    } finally {
      await pool.destroy();
    }
  });

  it('a module version mismatch rejects with ERR_OFFTHREAD_MODULE_MISMATCH instead of running other code', async () => {
    const pool = new RemotePool({ queue, root: callerRoot, connection: redis.url });
    try {
      const error = await rejection(pool.run(5, { filename: join(callerRoot, 'changed.mjs') }));
      expect(error.code).toBe('ERR_OFFTHREAD_MODULE_MISMATCH');
      expect(error.message).toMatch(/changed\.mjs differs from the caller's/);
    } finally {
      await pool.destroy();
    }
  });

  it('a module missing on the worker rejects with ERR_OFFTHREAD_MODULE_MISMATCH', async () => {
    writeFileSync(join(callerRoot, 'new.mjs'), 'export default () => 1;\n');
    const pool = new RemotePool({ queue, root: callerRoot, connection: redis.url });
    try {
      const error = await rejection(pool.run(5, { filename: join(callerRoot, 'new.mjs') }));
      expect(error.code).toBe('ERR_OFFTHREAD_MODULE_MISMATCH');
    } finally {
      await pool.destroy();
    }
  });

  it('a job naming ../ outside the worker root is refused unrun', async () => {
    const hash = 'x';
    const error = (await rawJob({
      v: 1,
      m: { k: 'f', p: '../secret.mjs', h: hash },
      n: 'default',
    })) as Error & {
      code: string;
    };
    expect(error.code).toBe('ERR_OFFTHREAD_OUTSIDE_ROOT');
    const deep = (await rawJob({
      v: 1,
      m: { k: 'f', p: '../../../../etc/x', h: hash },
      n: 'default',
    })) as {
      code: string;
    };
    expect(deep.code).toBe('ERR_OFFTHREAD_OUTSIDE_ROOT');
  });

  it('a job naming an absolute path is refused unrun', async () => {
    const secret = join(workerRoot, '..', 'secret.mjs');
    const error = (await rawJob({ v: 1, m: { k: 'f', p: secret, h: 'x' }, n: 'default' })) as {
      code: string;
    };
    expect(error.code).toBe('ERR_OFFTHREAD_OUTSIDE_ROOT');
    const url = (await rawJob({
      v: 1,
      m: { k: 'f', p: 'file:///etc/passwd', h: 'x' },
      n: 'default',
    })) as {
      code: string;
    };
    expect(['ERR_OFFTHREAD_OUTSIDE_ROOT', 'ERR_OFFTHREAD_MODULE_MISMATCH']).toContain(url.code);
  });

  it('a job naming a file inside an adapter package that is not its worker entry is refused', async () => {
    const version = JSON.parse(
      readFileSync(
        new URL('../node_modules/@offthread/express/package.json', import.meta.url),
        'utf8',
      ),
    ).version;
    const error = (await rawJob({
      v: 1,
      m: { k: 'p', n: '@offthread/express', v: version, p: '../core/dist/index.js' },
      n: 'default',
    })) as { code: string };
    expect(error.code).toBe('ERR_OFFTHREAD_OUTSIDE_ROOT');
    const other = (await rawJob({
      v: 1,
      m: { k: 'p', n: 'fs', v: '1', p: 'index.js' },
      n: 'default',
    })) as {
      code: string;
    };
    expect(other.code).toBe('ERR_OFFTHREAD_OUTSIDE_ROOT');
  });
});
