import { get } from 'node:http';
import { OffThreadErrorCode, Pool, registerError } from '@offthread/core';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offThread } from '../src/index.js';
// @ts-expect-error: a plain .mjs fixture without types
import { TeapotError } from './fixtures/fail.mjs';
import {
  channelListener,
  expressVersions,
  fetchJson,
  fetchText,
  fixture,
  listen,
  type Running,
} from './helpers.js';

type HttpError = Error & {
  status?: number;
  statusCode?: number;
  code?: string;
  expose?: boolean;
  headers?: Record<string, string>;
};

let nextId = 0;
const id = () => `e${++nextId}`;

describe.each(expressVersions)('offThread() errors with %s', (_name, express) => {
  let pool: Pool;
  let single: Pool;
  let server: Running;
  const seen: HttpError[] = [];
  const channel = channelListener();

  beforeAll(async () => {
    pool = new Pool({ minThreads: 1, maxThreads: 2 });
    single = new Pool({ minThreads: 1, maxThreads: 1, maxQueue: 1 });
    const app = express();
    const fail = offThread(fixture('fail.mjs'), { pool });
    const busy = offThread(fixture('slow.mjs'), { pool: single });
    app.get('/fail', fail);
    app.get('/respond', offThread(fixture('respond.mjs'), { pool }));
    app.get('/busy', busy);
    app.get('/slow', offThread(fixture('slow.mjs'), { pool }));
    app.get('/timeout', offThread(fixture('slow.mjs'), { pool, timeout: 100, retryAfter: 7 }));
    app.get(
      '/timeout-next',
      offThread(fixture('slow.mjs'), { pool, timeout: 100, respondToOverload: false }),
    );
    app.get(
      '/uncloneable',
      offThread(fixture('echo.mjs'), {
        pool,
        locals: () => ({ callback: () => 'functions cannot be cloned' }),
      }),
    );
    app.use((error: HttpError, _req: Request, _res: Response, next: NextFunction) => {
      seen.push(error);
      next(error);
    });
    await Promise.all([fail.ready, busy.ready]);
    server = await listen(app);
  });

  afterAll(async () => {
    channel.close();
    await server?.close();
    await Promise.all([pool?.destroy(), single?.destroy()]);
  });

  it('passes a handler error to next(err) with its name, message, status and own properties', async () => {
    const res = await fetchText(`${server.url}/fail?kind=teapot`);
    expect(res.status).toBe(418);
    const error = seen.at(-1)!;
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TeapotError');
    expect(error.message).toBe('I am a teapot');
    expect(error).toMatchObject({
      status: 418,
      code: 'E_TEAPOT',
      detail: { why: 'short and stout' },
    });
  });

  it('keeps the class of a registered error and of built-in errors, with their cause', async () => {
    registerError(TeapotError);
    await fetchText(`${server.url}/fail?kind=teapot`);
    expect(seen.at(-1)).toBeInstanceOf(TeapotError);
    const res = await fetchText(`${server.url}/fail?kind=type`);
    expect(res.status).toBe(500);
    const error = seen.at(-1)!;
    expect(error).toBeInstanceOf(TypeError);
    expect((error.cause as Error).message).toBe('the root cause');
  });

  it('passes non-Error throws and failed handlers on without hanging', async () => {
    expect((await fetchText(`${server.url}/fail?kind=string`)).status).toBe(500);
    expect(seen.at(-1)).toBe('a thrown string');
    expect((await fetchText(`${server.url}/fail?kind=plain`)).status).toBe(500);
  });

  it('answers 500 through next(err) when the thread running the handler dies', async () => {
    const res = await fetchText(`${server.url}/fail?kind=exit`);
    expect(res.status).toBe(500);
    expect(seen.at(-1)).toMatchObject({ code: OffThreadErrorCode.WORKER_EXIT, status: 500 });
  });

  it('answers 500 for results that cannot be sent: bad status, a function, a BigInt', async () => {
    expect((await fetchText(`${server.url}/respond?kind=bad-status`)).status).toBe(500);
    expect(seen.at(-1)).toBeInstanceOf(RangeError);
    expect(seen.at(-1)!.message).toMatch(/reply\.status/);
    expect((await fetchText(`${server.url}/respond?kind=function`)).status).toBe(500);
    expect(seen.at(-1)!.message).toMatch(/cannot be sent as JSON/);
    expect((await fetchText(`${server.url}/respond?kind=bigint`)).status).toBe(500);
    expect(seen.at(-1)).toBeInstanceOf(TypeError);
  });

  it('answers 500 with a clear message when the request data cannot be cloned', async () => {
    const res = await fetchText(`${server.url}/uncloneable`);
    expect(res.status).toBe(500);
    const error = seen.at(-1)!;
    expect(error.code).toBe(OffThreadErrorCode.UNCLONEABLE);
    // Names the field, once, without a double period.
    expect(error.message).toMatch(
      /req\.locals\.callback cannot be copied to a worker thread \(it is a function\)/,
    );
    expect(error.message).not.toMatch(/\.\./);
    // http-errors: a 5xx message may carry paths or source, so it is never exposed.
    expect(error).toMatchObject({ status: 500, statusCode: 500, expose: false });
  });

  it('answers 503 with Retry-After and a JSON body when the queue is full', async () => {
    const first = fetchJson(`${server.url}/busy?ms=300&id=${id()}`);
    const started = await channel.waitFor((m) => m.started === true);
    expect(started).toBeDefined();
    // One request runs, one waits in the queue (maxQueue: 1), the next one is turned away.
    const second = fetchJson(`${server.url}/busy?ms=10`);
    await new Promise<void>((resolve) => {
      const check = () => (single.stats().queued === 1 ? resolve() : setTimeout(check, 5));
      check();
    });
    const res = await fetchJson(`${server.url}/busy?ms=10`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json).toMatchObject({
      error: 'Service Unavailable',
      code: OffThreadErrorCode.QUEUE_FULL,
    });
    expect(res.json.message).toMatch(/too much work is queued/);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  });

  it('answers 503 with Retry-After when the handler runs past its timeout', async () => {
    const started = Date.now();
    const res = await fetchJson(`${server.url}/timeout?spin=5000`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json.code).toBe(OffThreadErrorCode.TIMEOUT);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('hands overload errors to next(err) with HTTP fields when respondToOverload is false', async () => {
    const res = await fetchText(`${server.url}/timeout-next?spin=5000`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(seen.at(-1)).toMatchObject({
      code: OffThreadErrorCode.TIMEOUT,
      status: 503,
      statusCode: 503,
      expose: false,
      headers: { 'Retry-After': '1' },
    });
  });

  it('aborts the running task when the client disconnects', async () => {
    const taskId = id();
    const before = seen.length;
    const req = get(`${server.url}/slow?ms=20000&id=${taskId}`);
    req.on('error', () => {});
    await channel.waitFor((m) => m.id === taskId && m.started === true);
    req.destroy();
    const aborted = await channel.waitFor((m) => m.id === taskId && m.aborted === true);
    expect(aborted).toBeDefined();
    // Nobody is left to answer: nothing goes to the error handler.
    expect(seen.length).toBe(before);
  });

  it('removes a queued task when its client disconnects, before it starts', async () => {
    const queuedPool = new Pool({ minThreads: 1, maxThreads: 1 });
    const app = express();
    const route = offThread(fixture('slow.mjs'), { pool: queuedPool });
    app.get('/slow', route);
    await route.ready;
    const s = await listen(app);
    try {
      const running = id();
      const queued = id();
      const first = fetchJson(`${s.url}/slow?ms=300&id=${running}`);
      await channel.waitFor((m) => m.id === running && m.started === true);
      const req = get(`${s.url}/slow?ms=10&id=${queued}`);
      req.on('error', () => {});
      await new Promise<void>((resolve) => {
        const check = () => (queuedPool.stats().queued === 1 ? resolve() : setTimeout(check, 5));
        check();
      });
      req.destroy();
      await new Promise<void>((resolve) => {
        const check = () => (queuedPool.stats().queued === 0 ? resolve() : setTimeout(check, 5));
        check();
      });
      expect((await first).status).toBe(200);
      // Tasks start in order: once a later request has run, the removed one would have started.
      expect((await fetchJson(`${s.url}/slow?ms=1`)).status).toBe(200);
      expect(channel.messages.some((m) => m.id === queued)).toBe(false);
    } finally {
      await s.close();
      await queuedPool.destroy();
    }
  });
});
