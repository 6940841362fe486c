import { describe, expect, it } from 'vitest';
import type * as Cases from '../fixtures/invalid/cases.js';
import { fixture } from '../support/stage.js';

const { bootError } = fixture<typeof Cases>('invalid/cases.js');

describe('start-up checks: mistakes fail app.init(), not the first call', () => {
  it('a request-scoped provider', async () => {
    const error = await bootError('request-scoped');
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/PerRequestService is request-scoped/);
  });

  it('a method that is not async', async () => {
    const error = await bootError('not-async');
    expect(error.message).toMatch(/SyncService\.run\(\) has @OffThread\(\) but is not async/);
  });

  it('a provider the worker module cannot construct', async () => {
    const error = (await bootError('unconstructible')) as Error & { code?: string };
    expect(error.code).toBe('ERR_OFFTHREAD_WORKER_INIT');
    expect(error.message).toMatch(/NeedsSecretService/);
    expect(error.message).toMatch(/IncompleteWorkerModule/);
  });
});
