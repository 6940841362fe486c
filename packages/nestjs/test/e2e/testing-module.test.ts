import { describe, expect, it } from 'vitest';
import type * as NoMeta from '../fixtures/nometa/nometa.js';
import type * as Testing from '../fixtures/testing/testing.js';
import { fixture } from '../support/stage.js';

describe('tests: Test.createTestingModule() and overrideProvider()', () => {
  const { buildWithMockedFormatter } = fixture<typeof Testing>('testing/testing.js');

  it('in a testing module, @OffThread() methods run inline by default and see the overridden provider', async () => {
    const result = await buildWithMockedFormatter();
    expect(result.value).toBe('mocked 55');
    expect(result.threadId).toBe(result.mainThread);
  });

  it('inline, a call past its timeout rejects with ERR_OFFTHREAD_TIMEOUT as it does in a thread', async () => {
    const { waitPastTimeoutInline } = fixture<typeof Testing>('testing/testing.js');
    expect(await waitPastTimeoutInline()).toMatchObject({
      code: 'ERR_OFFTHREAD_TIMEOUT',
      timeout: 300,
    });
  });

  // currentTask() threw "outside an offthread pool thread" inline, so a method following the
  // README's cancellation advice could not be unit-tested in a testing module.
  it('inline, currentTask() works: a method reads its signal, which aborts on the timeout', async () => {
    const { currentTaskInline } = fixture<typeof Testing>('testing/testing.js');
    expect(await currentTaskInline()).toEqual({
      slices: { aborted: false },
      timedOut: 'ERR_OFFTHREAD_TIMEOUT',
      sawAbort: 'ERR_OFFTHREAD_TIMEOUT',
    });
  });

  it('inline: false runs them in threads, which build the real providers of the worker module', async () => {
    const result = await buildWithMockedFormatter(false);
    expect(result.value).toBe('#55');
    expect(result.threadId).not.toBe(result.mainThread);
  });
});

describe('start-up check: code compiled without decorator metadata', () => {
  it('fails start-up naming the class and the fixes, instead of injecting undefined', async () => {
    const error = await fixture<typeof NoMeta>('nometa/nometa.js').startupError();
    expect(error.message).toMatch(
      /StampService has constructor parameters but no decorator metadata/,
    );
    expect(error.message).toMatch(/@Inject\(Token\)/);
    expect(error.message).not.toMatch(/install tsx/);
  });

  it('inline too (a test compiled by Vitest without SWC): the advice names unplugin-swc', async () => {
    const error = await fixture<typeof NoMeta>('nometa/nometa.js').startupError(true);
    expect(error.message).toMatch(
      /StampService has constructor parameters but no decorator metadata/,
    );
    expect(error.message).toMatch(/unplugin-swc/);
  });
});
