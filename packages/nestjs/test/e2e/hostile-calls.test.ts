import { beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../support/app.js';
import { get } from '../support/http.js';

describe('careless and hostile calls get the error they caused, never one of the adapter', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await startApp());
  });

  it.each(['proto-trap', 'endless-prototypes'])(
    'a thrown Proxy (%s) arrives as the error it wraps, not as the trap error of the adapter',
    async (kind) => {
      const reply = await get(`${url}/caught/${kind}`);
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ caught: true, message: `behind a proxy (${kind})` });
      // The thread that ran it is still usable.
      expect((await get(`${url}/build/10`)).status).toBe(200);
    },
  );

  it('a method passed as a callback (no `this`) rejects with a TypeError that says how to call it', async () => {
    const reply = await get(`${url}/detached`);
    expect(reply.body.name).toBe('TypeError');
    expect(reply.body.message).toContain('ReportService.build() was called without its instance');
    expect(reply.body.message).toContain('items.map((x) => service.build(x))');
  });

  it('a transfer picker that returns a buffer instead of a list rejects, naming the option', async () => {
    const reply = await get(`${url}/bad-transfer/not-a-list`);
    expect(reply.body.threwSynchronously).toBe(false);
    expect(reply.body.message).toContain('options.transfer of ReportService.lengthOf()');
    expect(reply.body.message).toContain('[bytes.buffer]');
  });

  it('a transfer picker that throws rejects the call instead of throwing synchronously', async () => {
    const reply = await get(`${url}/bad-transfer/throws`);
    expect(reply.body).toEqual({
      threwSynchronously: false,
      message: 'the transfer picker failed',
    });
  });
});
