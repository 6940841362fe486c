import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The tests import the middleware from src/, but pool threads cannot run TypeScript on Node 20,
 * so they load dist/dispatch.js. Rebuild when any source file is newer than it.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const built = `${root}dist/dispatch.js`;
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  const stale = readdirSync(`${root}src`).some(
    (f) => statSync(`${root}src/${f}`).mtimeMs > builtAt,
  );
  if (stale) execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
}
