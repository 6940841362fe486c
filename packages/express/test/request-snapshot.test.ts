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
const id = () => `s${++nextId}`;

describe.each(expressVersions)('the request snapshot with %s', (_name, express) => {
  let pool: Pool;
  let server: Running;
  const channel = channelListener();

  beforeAll(async () => {
    pool = new Pool({ minThreads: 1, maxThreads: 1 });
    const app = express();
    app.set('trust proxy', true);
    const inspect = offThread(fixture('inspect.mjs'), { pool });
    const router = express.Router();
    router.post('/raw', express.raw({ type: '*/*' }), inspect);
    router.get('/inspect', inspect);
    // What cookie-parser does: parse the Cookie header into req.cookies and req.signedCookies.
    const cookies = (req: Request, _res: Response, next: NextFunction) => {
      const pairs = (req.headers.cookie ?? '').split(';').map((p) => p.trim().split('='));
      (req as Request & { cookies: object }).cookies = Object.fromEntries(pairs);
      (req as Request & { signedCookies: object }).signedCookies = {};
      next();
    };
    router.get('/with-cookies', cookies, inspect);
    app.use('/api', router);
    app.get('/stream', offThread(fixture('head-stream.mjs'), { pool }));
    await inspect.ready;
    server = await listen(app);
  });

  afterAll(async () => {
    channel.close();
    await server?.close();
    await pool?.destroy();
  });

  it('sends an express.raw() body with its own bytes only, not the 8 KB backing buffer', async () => {
    const res = await fetchJson(`${server.url}/api/raw`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'hello',
    });
    expect(res.json).toMatchObject({
      bodyIsBuffer: true,
      bodyBytes: 5,
      backingBytes: 5,
      bodyText: 'hello',
    });
  });

  it('has baseUrl, secure, ips and a get(name) header helper', async () => {
    const res = await fetchJson(`${server.url}/api/inspect`, {
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        referer: 'https://example.com/from',
        'x-forwarded-for': '203.0.113.7, 198.51.100.2',
        'x-forwarded-proto': 'https',
      },
    });
    expect(res.json).toMatchObject({
      baseUrl: '/api',
      path: '/inspect',
      secure: true,
      ip: '203.0.113.7',
      ips: ['203.0.113.7', '198.51.100.2'],
      hasCookies: false,
      contentType: 'text/plain; charset=utf-8',
      referrer: 'https://example.com/from',
      missing: null,
      inherited: null,
    });
  });

  it('has cookies and signedCookies when cookie-parser ran', async () => {
    const res = await fetchJson(`${server.url}/api/with-cookies`, {
      headers: { cookie: 'theme=dark; lang=fr' },
    });
    expect(res.json).toMatchObject({
      hasCookies: true,
      cookies: { theme: 'dark', lang: 'fr' },
      signedCookies: {},
    });
  });

  it('does not run a streaming generator for HEAD', async () => {
    const headId = id();
    const head = await fetchText(`${server.url}/stream?id=${headId}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('application/octet-stream');
    expect(head.text).toBe('');
    const settled = await channel.waitFor((m) => m.id === headId && m.settled === true);
    expect(settled.produced).toBe(0);
    // GET on the same route streams everything.
    const getId = id();
    const get = await fetchText(`${server.url}/stream?id=${getId}`);
    expect(get.text.split('\n').filter(Boolean)).toHaveLength(50);
    expect((await channel.waitFor((m) => m.id === getId && m.settled === true)).produced).toBe(50);
  });
});
