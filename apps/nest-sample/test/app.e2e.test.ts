import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs helper shared with the bench script
import { startApp } from '../scripts/start-app.mjs';

interface Started {
  url: string;
  child: import('node:child_process').ChildProcess;
  stop: () => Promise<void>;
}

describe('nest-sample, built and started like in production', () => {
  let app: Started;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  const json = async (path: string) => {
    const res = await fetch(`${app.url}${path}`);
    return { status: res.status, body: await res.json() };
  };

  it('answers /health', async () => {
    expect(await json('/health')).toEqual({ status: 200, body: { ok: true } });
  });

  it('/offthread/:n computes what /blocking/:n does, in a worker thread, with its injected provider', async () => {
    const [offThread, blocking] = await Promise.all([json('/offthread/30'), json('/blocking/30')]);
    expect(offThread.status).toBe(200);
    expect(offThread.body.primes).toBe(3245);
    expect(blocking.body.primes).toBe(3245);
    expect(blocking.body.threadId).toBe(0);
    expect(offThread.body.threadId).toBeGreaterThan(0);
  });

  it('/manual/:n, the overhead baseline, does the same work through a hand-written pool.run()', async () => {
    const manual = await json('/manual/30');
    expect(manual.status).toBe(200);
    expect(manual.body.primes).toBe(3245);
    expect(manual.body.threadId).toBeGreaterThan(0);
  });

  it('rejects a bad parameter before any thread is involved', async () => {
    const reply = await json('/offthread/abc');
    expect(reply.status).toBe(400);
  });

  it('/hash derives a key with crypto.pbkdf2', async () => {
    const reply = await json('/hash');
    expect(reply.body.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('shutdown', () => {
  it('SIGTERM while an off-thread request runs: the request completes, then the process exits cleanly', async () => {
    const app: Started = await startApp();
    const inFlight = fetch(`${app.url}/offthread/400`).then(async (res) => ({
      status: res.status,
      body: await res.json(),
    }));
    // The request is accepted before the signal: wait until the server has it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exited = new Promise<number | null>((resolve) =>
      app.child.once('exit', (code) => resolve(code)),
    );
    app.child.kill('SIGTERM');
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.body.primes).toBe(33860);
    // Nest re-raises the signal after closing, so the exit is by SIGTERM or code 0.
    const code = await exited;
    expect(code === 0 || app.child.signalCode === 'SIGTERM').toBe(true);
  });
});
