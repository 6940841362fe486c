import { Pool } from '@offthread/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDefaultPool, getDefaultPool, offThread } from '../src/index.js';
import { expressVersions, fetchJson, fetchText, fixture, listen, type Running } from './helpers.js';

describe.each(expressVersions)('offThread() responses with %s', (_name, express) => {
  let pool: Pool;
  let server: Running;

  beforeAll(async () => {
    pool = new Pool({ minThreads: 1, maxThreads: 2 });
    const app = express();
    app.set('trust proxy', 'loopback');
    const echo = offThread(fixture('echo.mjs'), { pool, locals: ['user', 'missing'] });
    const respond = offThread(fixture('respond.mjs'), { pool });
    app.use((_req, res, next) => {
      res.locals.user = { id: 7, roles: ['admin'] };
      res.locals.db = { query: () => 'not cloneable' };
      next();
    });
    app.get('/echo/:id', echo);
    app.post('/echo/:id', express.json(), echo);
    app.post('/raw', express.raw({ type: '*/*' }), echo);
    app.post('/text', express.text(), echo);
    const router = express.Router();
    router.get('/deep/:a/:b', echo);
    app.use('/mounted', router);
    app.get(
      '/locals-fn',
      offThread(fixture('echo.mjs'), {
        pool,
        locals: (req, res) => ({ user: res.locals.user, from: req.path }),
      }),
    );
    app.all('/respond', respond);
    app.get('/default-pool', offThread(fixture('echo.mjs')));
    app.get('/cjs', offThread(fixture('handler.cjs'), { pool }));
    const ts = offThread(fixture('handler.ts'), { pool });
    app.get('/ts', ts);
    await Promise.all([echo.ready, respond.ready, ts.ready]);
    server = await listen(app);
  });

  afterAll(async () => {
    await server?.close();
    await pool?.close();
    await closeDefaultPool();
  });

  it('gives the handler a plain snapshot of a GET request, run in a worker thread', async () => {
    const res = await fetchJson(`${server.url}/echo/42?q=1&tags=a&tags=b`, {
      headers: {
        'x-custom': 'yes',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const req = res.json;
    expect(req.isMainThread).toBe(false);
    expect(req).toMatchObject({
      method: 'GET',
      url: '/echo/42?q=1&tags=a&tags=b',
      originalUrl: '/echo/42?q=1&tags=a&tags=b',
      path: '/echo/42',
      params: { id: '42' },
      query: { q: '1', tags: ['a', 'b'] },
      ip: '203.0.113.9',
      protocol: 'https',
      hostname: '127.0.0.1',
      locals: { user: { id: 7, roles: ['admin'] } },
    });
    expect(req.headers['x-custom']).toBe('yes');
    expect(req.body).toBeUndefined();
  });

  it('passes the body as parsed by express.json()', async () => {
    const res = await fetchJson(`${server.url}/echo/1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: [1, 2, { b: null }] }),
    });
    expect(res.json.method).toBe('POST');
    expect(res.json.body).toEqual({ a: [1, 2, { b: null }] });
  });

  it('passes a raw body as a Buffer and a text body as a string', async () => {
    const raw = await fetchJson(`${server.url}/raw`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'héllo bytes',
    });
    expect(raw.json.bodyIsBuffer).toBe(true);
    expect(raw.json.bodyText).toBe('héllo bytes');
    const text = await fetchJson(`${server.url}/text`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'some text',
    });
    expect(text.json.body).toBe('some text');
  });

  it('reports url relative to the router and originalUrl as sent', async () => {
    const res = await fetchJson(`${server.url}/mounted/deep/x/y?z=1`);
    expect(res.json).toMatchObject({
      url: '/deep/x/y?z=1',
      originalUrl: '/mounted/deep/x/y?z=1',
      path: '/deep/x/y',
      params: { a: 'x', b: 'y' },
    });
  });

  it('passes locals chosen by a function', async () => {
    const res = await fetchJson(`${server.url}/locals-fn`);
    expect(res.json.locals).toEqual({ user: { id: 7, roles: ['admin'] }, from: '/locals-fn' });
  });

  it('sends a returned value as JSON, with an ETag like res.send()', async () => {
    const res = await fetchJson(`${server.url}/respond?kind=json`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ hello: 'world', n: 1 });
    expect(res.headers.etag).toBeDefined();
    const again = await fetchText(`${server.url}/respond?kind=json`, {
      headers: { 'if-none-match': String(res.headers.etag) },
    });
    expect(again.status).toBe(304);
    expect((await fetchJson(`${server.url}/respond?kind=string`)).json).toBe('just a string');
    expect((await fetchJson(`${server.url}/respond?kind=null`)).json).toBeNull();
  });

  it('answers 204 when the handler returns nothing', async () => {
    const res = await fetchText(`${server.url}/respond?kind=nothing`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
  });

  it('sends reply() status, headers and body', async () => {
    const json = await fetchJson(`${server.url}/respond?kind=reply-json`);
    expect(json.status).toBe(201);
    expect(json.headers['x-made-in']).toBe('thread');
    expect(json.json).toEqual({ created: true });
    const text = await fetchText(`${server.url}/respond?kind=reply-text`);
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.text).toBe('plain text');
    const empty = await fetchText(`${server.url}/respond?kind=reply-empty`);
    expect(empty.status).toBe(202);
    expect(empty.headers['x-empty']).toBe('yes');
    expect(empty.text).toBe('');
    const png = await fetchText(`${server.url}/respond?kind=reply-bytes`);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.headers['content-length']).toBe('4');
  });

  it('answers HEAD without a body', async () => {
    const res = await fetchText(`${server.url}/respond?kind=json`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });

  it('moves a returned Buffer out of the thread instead of copying it', async () => {
    const first = await fetchText(`${server.url}/respond?kind=bytes`);
    expect(first.headers['content-type']).toBe('application/octet-stream');
    expect(first.headers['content-length']).toBe(String(64 * 1024));
    // A one-thread pool so the second request sees the first one's buffer.
    const single = new Pool({ maxThreads: 1, minThreads: 1 });
    const app = express();
    app.get('/bytes', offThread(fixture('respond.mjs'), { pool: single }));
    const s = await listen(app);
    try {
      await fetchText(`${s.url}/bytes?kind=bytes`);
      const second = await fetchText(`${s.url}/bytes?kind=bytes`);
      // The buffer returned the first time was transferred: detached, length 0, in its thread.
      expect(second.headers['x-previous-byte-length']).toBe('0');
      expect(second.text).toBe('\u0007'.repeat(64 * 1024));
      const small = await fetchText(`${s.url}/bytes?kind=small-bytes`);
      expect(small.text).toBe('small');
    } finally {
      await s.close();
      await single.close();
    }
  });

  it('runs routes without a pool option on the shared default pool', async () => {
    const res = await fetchJson(`${server.url}/default-pool`);
    expect(res.json.isMainThread).toBe(false);
    expect(getDefaultPool().stats().completed).toBeGreaterThanOrEqual(1);
  });

  it('accepts a CommonJS handler module', async () => {
    const res = await fetchJson(`${server.url}/cjs`);
    expect(res.json).toEqual({ format: 'cjs', path: '/cjs' });
    const typescript = await fetchJson(`${server.url}/ts`);
    expect(typescript.json).toEqual({ format: 'ts', path: '/ts' });
  });
});
