import { Pool } from '@offthread/core';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offThread } from '../src/index.js';
import {
  channelListener,
  expressVersions,
  fetchJson,
  fetchText,
  fixture,
  listen,
  type Running,
} from './helpers.js';

let nextId = 0;
const id = () => `q${++nextId}`;

describe.each(expressVersions)('the queue-wait bound with %s', (_name, express) => {
  let pool: Pool;
  let server: Running;
  const seen: Array<Error & { status?: number; headers?: Record<string, string> }> = [];
  const channel = channelListener();

  beforeAll(async () => {
    pool = new Pool({ minThreads: 1, maxThreads: 1 });
    const app = express();
    const route = offThread(fixture('slow.mjs'), { pool, queueTimeout: 100, retryAfter: 3 });
    app.get('/slow', route);
    app.get(
      '/slow-next',
      offThread(fixture('slow.mjs'), { pool, queueTimeout: 100, respondToOverload: false }),
    );
    app.use((error: Error, _req: Request, _res: Response, next: NextFunction) => {
      seen.push(error);
      next(error);
    });
    await route.ready;
    server = await listen(app);
  });

  afterAll(async () => {
    channel.close();
    await server?.close();
    await pool?.destroy();
  });

  it('answers 503 with Retry-After when a request waits in the queue past queueTimeout', async () => {
    const running = id();
    const first = fetchJson(`${server.url}/slow?ms=1500&id=${running}`);
    await channel.waitFor((m) => m.id === running && m.started === true);
    const waiting = id();
    const res = await fetchJson(`${server.url}/slow?ms=10&id=${waiting}`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.json).toMatchObject({
      error: 'Service Unavailable',
      code: 'ERR_OFFTHREAD_QUEUE_TIMEOUT',
    });
    // The client-visible message says what happened, and nothing about files or code.
    expect(res.json.message).toMatch(/waited too long/);
    expect(res.json.message).not.toMatch(/\//);
    // The handler never ran for the request that waited too long.
    expect(channel.messages.some((m) => m.id === waiting)).toBe(false);

    const next = await fetchText(`${server.url}/slow-next?ms=10&id=${id()}`);
    expect(next.status).toBe(503);
    expect(seen.at(-1)).toMatchObject({
      code: 'ERR_OFFTHREAD_QUEUE_TIMEOUT',
      status: 503,
      expose: false,
      headers: { 'Retry-After': '1' },
    });
    expect((await first).status).toBe(200);
  });
});
