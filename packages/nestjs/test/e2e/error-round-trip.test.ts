import { beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../support/app.js';
import { get } from '../support/http.js';

describe('errors thrown in the worker answer like errors thrown inline', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await startApp());
  });

  it.each([
    ['bad-request', 400],
    ['not-found', 404],
    ['http', 409],
    ['teapot', 418],
    ['plain', 500],
  ])(
    '%s: same status, body and content type as when thrown on the main thread',
    async (kind, status) => {
      const [offThread, inline] = await Promise.all([
        get(`${url}/fail/${kind}`),
        get(`${url}/inline-fail/${kind}`),
      ]);
      expect(inline.status).toBe(status);
      expect(offThread.status).toBe(inline.status);
      expect(offThread.body).toEqual(inline.body);
      expect(offThread.headers['content-type']).toBe(inline.headers['content-type']);
    },
  );

  it('a registered HttpException subclass keeps its class: the filter catching that class answers', async () => {
    const [offThread, inline] = await Promise.all([
      get(`${url}/fail/quota`),
      get(`${url}/inline-fail/quota`),
    ]);
    expect(offThread.status).toBe(403);
    expect(offThread.body).toEqual({
      caughtBy: 'QuotaFilter',
      quota: 3,
      body: { message: 'Quota exceeded', quota: 3, error: 'Forbidden' },
    });
    expect(offThread.body).toEqual(inline.body);
  });
});
