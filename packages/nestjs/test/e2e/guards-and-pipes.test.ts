import { beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../support/app.js';
import { get } from '../support/http.js';

// The README: pipes run inside the OffThreadInterceptor, guards before it.
describe('calls made in pipes and guards', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await startApp());
  });

  it('a pipe call past its timeout answers 503 with Retry-After, as in a handler', async () => {
    const reply = await get(`${url}/piped/5000`);
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.body.code).toBe('ERR_OFFTHREAD_TIMEOUT');
  });

  it('a guard call is outside the interceptor: its pool error reaches Nest unmapped (500)', async () => {
    const reply = await get(`${url}/guarded/plain`);
    expect(reply.status).toBe(500);
    expect(reply.body).toEqual({ statusCode: 500, message: 'Internal server error' });
  });

  it('a guard that throws toHttpException(error), as the README advises, answers 503', async () => {
    const reply = await get(`${url}/guarded/mapped`);
    expect(reply.status).toBe(503);
    expect(reply.body.code).toBe('ERR_OFFTHREAD_TIMEOUT');
  });
});
