import { threadId } from 'node:worker_threads';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Main from '../fixtures/providers/main.js';
import { get } from '../support/http.js';
import { fixture } from '../support/stage.js';

describe('providers registered under a token resolve in the worker as in the app', () => {
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    ({ app, url } = await fixture<typeof Main>('providers/main.js').createPricingApp());
  });
  afterAll(() => app?.close());

  it('{ provide: PricingPort, useClass: PricingAdapter } runs PricingAdapter in a thread', async () => {
    const reply = await get(`${url}/quote/4`);
    expect(reply.status).toBe(200);
    expect(reply.body.total).toBe(60);
    expect(reply.body.threadId).not.toBe(threadId);
  });

  it('a useFactory provider under a Symbol.for() token is made by the same factory in the thread', async () => {
    const reply = await get(`${url}/discount/100`);
    expect(reply.status).toBe(200);
    expect(reply.body.price).toBe(80);
    expect(reply.body.threadId).not.toBe(threadId);
  });

  it('a useExisting alias under a unique symbol runs the aliased provider in a thread', async () => {
    const reply = await get(`${url}/alias/2`);
    expect(reply.status).toBe(200);
    expect(reply.body.total).toBe(30);
    expect(reply.body.threadId).not.toBe(threadId);
  });
});
