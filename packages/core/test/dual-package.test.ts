import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';

describe('the ESM and CJS builds loaded in one process', () => {
  it('share the registerError registry, and each rebuilds its own OffThreadError', async () => {
    // A plain node process, so both builds load exactly as an app would load them.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [fileURLToPath(fixture('dual-package.mjs'))],
      { timeout: 60_000 },
    );
    expect(JSON.parse(stdout)).toEqual({
      distinctCopies: true,
      esmPoolSeesCjsRegistration: true,
      cjsPoolSeesEsmRegistration: true,
      esmPoolErrorIsEsmClass: true,
      cjsPoolErrorIsCjsClass: true,
      crossCopyCheck: true,
    });
  });
});
