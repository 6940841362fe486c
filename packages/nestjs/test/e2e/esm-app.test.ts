import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type * as EsmApp from '../fixtures/esm/esm-app.js';
import { esmFixture } from '../support/stage.js';

describe('an ES module app', () => {
  it('finds the class from a file: URL frame and runs it with its dependencies in a thread', async () => {
    const { describeSize } = await esmFixture<typeof EsmApp>('esm/esm-app.mjs');
    const result = await describeSize(3072);
    expect(result.text).toBe('3.0 kB');
    expect(result.threadId).not.toBe(threadId);
  });
});
