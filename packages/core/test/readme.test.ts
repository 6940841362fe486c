import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The README's example blocks that start with a `// file.js` comment, by file name. */
function readmeFiles(): Map<string, string> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const files = new Map<string, string>();
  for (const [, code = ''] of readme.matchAll(/```js\n([\s\S]*?)```/g)) {
    const name = /^\/\/ ([\w.-]+\.m?js)\b/.exec(code)?.[1];
    if (name) files.set(name, code);
  }
  return files;
}

describe('README', () => {
  it('the example runs as written', () => {
    const files = readmeFiles();
    expect([...files.keys()]).toEqual(['tasks.js', 'app.js']);
    const dir = mkdtempSync(join(tmpdir(), 'offthread-readme-'));
    try {
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      for (const [name, code] of files) writeFileSync(join(dir, name), code);
      // The app imports '@offthread/core' as a user would: link this package into node_modules.
      execFileSync('mkdir', ['-p', join(dir, 'node_modules/@offthread')]);
      symlinkSync(
        fileURLToPath(new URL('..', import.meta.url)),
        join(dir, 'node_modules/@offthread/core'),
      );
      const out = execFileSync(process.execPath, ['app.js'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(out.trim()).toBe('64 3');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
