import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type * as EsmApp from '../fixtures/esm/esm-app.js';
import { esmFixture, stageDir } from '../support/stage.js';

describe('an ES module app', () => {
  it('finds the class from a file: URL frame and runs it with its dependencies in a thread', async () => {
    const { describeSize } = await esmFixture<typeof EsmApp>('esm/esm-app.mjs');
    const result = await describeSize(3072);
    expect(result.text).toBe('3.0 kB');
    expect(result.threadId).not.toBe(threadId);
  });

  it('without workerModuleFile, start-up names the missing file once, not once per provider', async () => {
    const { startWithoutModuleFile } = await esmFixture<typeof EsmApp>('esm/esm-app.mjs');
    const message = await startWithoutModuleFile();
    expect(message).toMatch(/^OffThreadModule found a problem with @OffThread\(\) methods:/);
    expect(
      message.split('Cannot find the file that exports the worker module SizeModule'),
    ).toHaveLength(2);
    expect(message).toContain('workerModuleFile: new URL(');
  });

  it('runs under node --enable-source-maps, where stack traces name the .ts sources', async () => {
    // The usual production flag for a Nest app: the decorator must still find the compiled
    // file, not the TypeScript source its source map points to.
    const runner = join(stageDir, 'fixtures/esm/run-with-source-maps.mjs');
    writeFileSync(
      runner,
      "import { describeSize } from './esm-app.mjs';\nconsole.log(JSON.stringify(await describeSize(3072)));\n",
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--enable-source-maps', runner],
      { timeout: 60_000 },
    );
    expect(JSON.parse(stdout.trim().split('\n').pop() ?? '')).toMatchObject({ text: '3.0 kB' });
  });
});
