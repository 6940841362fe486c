import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Worker processes run the built CLI (dist/cli.js): rebuild when any source file is newer. */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const built = `${root}dist/cli.js`;
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  const stale = readdirSync(`${root}src`).some(
    (f) => statSync(`${root}src/${f}`).mtimeMs > builtAt,
  );
  if (stale) execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
}
