// @opentelemetry/api is an optional peer: the built package must load and run, in ESM and CJS,
// where it cannot be resolved at all (issue 14 item 4). The test installs the built dist into a
// temporary directory outside the workspace (no node_modules above it) and runs plain node there.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
let dir: string;

const tasks = `
import { currentTask } from '@offthread/core/worker';
export default function double(x) { return x * 2; }
export async function carried() { await null; return { ...currentTask().carried }; }
`;

// The same script in both formats: prove the API is absent, then run plain and carried tasks
// and record whether any task message carried a context (RunFlag.Context = 8 in protocol.ts).
const body = (load: string) => `
const { AsyncLocalStorage } = require('node:async_hooks');
const { MessagePort } = require('node:worker_threads');
const flags = [];
const post = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function (message, ...rest) {
  if (Array.isArray(message) && message[0] === 0)
    for (let i = 1; i < message.length; i += 4) flags.push(message[i + 2]);
  return post.call(this, message, ...rest);
};
async function main() {
  let apiMissing = false;
  try { require.resolve('@opentelemetry/api'); } catch { apiMissing = true; }
  const { Pool } = ${load};
  const requestId = new AsyncLocalStorage();
  const pool = new Pool({ filename: require('node:path').join(__dirname, 'tasks.mjs'), maxThreads: 1, carry: { requestId } });
  const doubled = await Promise.all([1, 2, 3].map((x) => pool.run(x)));
  const plainFlags = flags.splice(0);
  const carried = await requestId.run('req-1', () => pool.run(undefined, { name: 'carried' }));
  await pool.close();
  process.stdout.write(JSON.stringify({ apiMissing, doubled, plainFlags, carried }));
}
main().catch((error) => { console.error(error); process.exit(1); });
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'offthread-no-otel-'));
  const installed = join(dir, 'node_modules', '@offthread', 'core');
  mkdirSync(installed, { recursive: true });
  cpSync(join(packageDir, 'dist'), join(installed, 'dist'), { recursive: true });
  cpSync(join(packageDir, 'package.json'), join(installed, 'package.json'));
  writeFileSync(join(dir, 'tasks.mjs'), tasks);
  writeFileSync(join(dir, 'main.cjs'), body("require('@offthread/core')"));
  writeFileSync(
    join(dir, 'main.mjs'),
    `import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
const require = createRequire(import.meta.url);
const __dirname = dirname(fileURLToPath(import.meta.url));
${body("await import('@offthread/core')")}`,
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('without @opentelemetry/api installed', () => {
  for (const file of ['main.mjs', 'main.cjs']) {
    it(`${file}: the pool loads, runs tasks, carries values, and sends no context with plain tasks`, async () => {
      const env = { ...process.env };
      delete env.NODE_PATH;
      delete env.NODE_OPTIONS;
      const { stdout } = await promisify(execFile)(process.execPath, [join(dir, file)], {
        cwd: dir,
        env,
        timeout: 60_000,
      });
      expect(JSON.parse(stdout)).toEqual({
        apiMissing: true,
        doubled: [2, 4, 6],
        plainFlags: [0, 0, 0],
        carried: { requestId: 'req-1' },
      });
    });
  }
});
