// Start the compiled sample app on a free loopback port; resolve once it listens.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const appDir = fileURLToPath(new URL('..', import.meta.url));
export const mainFile = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** @returns {Promise<{ url: string, child: import('node:child_process').ChildProcess, stop: () => Promise<void> }>} */
export function startApp({ env = {}, timeoutMs = 30_000 } = {}) {
  if (!existsSync(mainFile))
    throw new Error(
      `${mainFile} is missing: run \`pnpm --filter @offthread/nest-sample build\` first`,
    );
  const child = spawn(process.execPath, [mainFile], {
    cwd: appDir,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the app did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1], child, stop, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app exited with code ${code} before listening:\n${output}`));
    });
  });
}
