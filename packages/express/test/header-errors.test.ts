import { Pool } from '@offthread/core';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offThread } from '../src/index.js';
import { expressVersions, fetchText, fixture, listen, type Running } from './helpers.js';

type HttpError = Error & { status?: number; expose?: boolean; code?: string };

describe.each(expressVersions)('headers Node refuses, with %s', (_name, express) => {
  let pool: Pool;
  let server: Running;
  const seen: HttpError[] = [];

  beforeAll(async () => {
    pool = new Pool({ minThreads: 1, maxThreads: 1 });
    const app = express();
    const route = offThread(fixture('bad-headers.mjs'), { pool });
    const plain = offThread(fixture('bad-headers.mjs'), { pool, stream: false });
    app.get('/bad', route);
    app.get('/bad-collected', plain);
    app.get('/ok', offThread(fixture('echo.mjs'), { pool }));
    app.use((error: HttpError, _req: Request, res: Response, next: NextFunction) => {
      seen.push(error);
      if (res.headersSent) return next(error);
      res.status(error.status ?? 500).json({ handled: true, status: error.status });
    });
    await route.ready;
    server = await listen(app);
  });

  afterAll(async () => {
    await server?.close();
    await pool?.destroy();
  });

  it.each([
    ['a non-ASCII Content-Disposition', 'disposition'],
    ['an array Content-Type', 'array-type'],
    ['a header name with a space', 'space'],
  ])('turns %s into next(err) with 500, and the server keeps serving', async (_what, kind) => {
    for (const path of [
      `/bad?kind=${kind}`,
      `/bad?kind=${kind}&stream=1`,
      `/bad-collected?kind=${kind}&stream=1`,
    ]) {
      const before = seen.length;
      const res = await fetchText(`${server.url}${path}`);
      expect(res.status, path).toBe(500);
      expect(JSON.parse(res.text)).toEqual({ handled: true, status: 500 });
      // Nothing the handler set leaks into the error response.
      expect(res.headers['x-fine']).toBeUndefined();
      expect(seen.length).toBe(before + 1);
      expect(seen.at(-1)).toMatchObject({ status: 500, expose: false });
      // The process is alive and serves the next request.
      expect((await fetchText(`${server.url}/ok`)).status).toBe(200);
    }
  });
});
