import { fileURLToPath } from 'node:url';
import { isOffThreadError, OffThreadErrorCode, Pool } from '@offthread/core';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offThread } from '../src/index.js';
import { expressVersions, fetchText, fixture, listen } from './helpers.js';

describe('offThread() start-up checks', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = new Pool({ minThreads: 1, maxThreads: 1 });
  });
  afterAll(async () => {
    await pool.destroy();
  });

  it('throws at once when the handler module does not exist', () => {
    let thrown: unknown;
    try {
      offThread(fixture('missing.mjs'), { pool });
    } catch (error) {
      thrown = error;
    }
    expect(isOffThreadError(thrown, OffThreadErrorCode.WORKER_INIT)).toBe(true);
    expect((thrown as Error).message).toMatch(/missing\.mjs does not exist/);
  });

  it('rejects a handler module given as a relative path or a non-file URL', () => {
    expect(() => offThread('./fixtures/echo.mjs', { pool })).toThrow(
      /handlerModule must be an absolute path/,
    );
    expect(() => offThread(new URL('https://example.com/x.js'), { pool })).toThrow(
      /handlerModule must be a file: URL/,
    );
    expect(() => offThread(42 as never, { pool })).toThrow(TypeError);
  });

  it('accepts an absolute path and a file: URL string', async () => {
    const path = fileURLToPath(fixture('echo.mjs'));
    await expect(offThread(path, { pool }).ready).resolves.toBeUndefined();
    await expect(offThread(fixture('echo.mjs').href, { pool }).ready).resolves.toBeUndefined();
  });

  it('rejects ready when the module has no default export function, naming what it exports', async () => {
    const middleware = offThread(fixture('no-default.mjs'), { pool });
    const error = await middleware.ready.catch((e: unknown) => e);
    expect(isOffThreadError(error, OffThreadErrorCode.TASK_NOT_FOUND)).toBe(true);
    expect((error as Error).message).toMatch(
      /no-default\.mjs has no default export that is a function/,
    );
  });

  it('rejects ready when the module throws while loading, with the cause', async () => {
    const error = await offThread(fixture('broken.mjs'), { pool }).ready.catch((e: unknown) => e);
    expect(isOffThreadError(error, OffThreadErrorCode.WORKER_INIT)).toBe(true);
    expect((error as Error).message).toMatch(/broken at load time/);
    expect(((error as Error).cause as Error).message).toBe('broken at load time');
  });

  it('exposes the pool and the resolved filename', () => {
    const middleware = offThread(fixture('echo.mjs'), { pool });
    expect(middleware.pool).toBe(pool);
    expect(middleware.filename).toBe(fileURLToPath(fixture('echo.mjs')));
  });

  describe.each(expressVersions)('with %s', (_name, express) => {
    it('answers requests to a route whose module failed with a 500 through next(err)', async () => {
      const middleware = offThread(fixture('no-default.mjs'), { pool });
      await middleware.ready.catch(() => {});
      const seen: unknown[] = [];
      const app = express();
      app.get('/x', middleware);
      app.use((error: Error, _req: Request, _res: Response, next: NextFunction) => {
        seen.push(error);
        next(error);
      });
      const s = await listen(app);
      try {
        const res = await fetchText(`${s.url}/x`);
        expect(res.status).toBe(500);
        expect(isOffThreadError(seen[0], OffThreadErrorCode.TASK_NOT_FOUND)).toBe(true);
      } finally {
        await s.close();
      }
    });
  });
});
