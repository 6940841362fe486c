/**
 * The published packages as a user gets them: packed tarballs installed with plain npm into a
 * fresh project outside the workspace, used from ESM, CommonJS and TypeScript (node10, node16 and
 * bundler resolution), and every package README's example run as written.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryPoints, type PackedProject, packAndInstall, sh } from './packed.js';
import { type ExampleFile, readmeExamples } from './readme.js';
import { repoRoot } from './workspace.js';

const fixtures = fileURLToPath(new URL('../fixtures', import.meta.url));
let project: PackedProject;
const children: ChildProcess[] = [];

beforeAll(async () => {
  project = await packAndInstall();
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (project && !process.env.KEEP_PACKED) rmSync(project.root, { recursive: true, force: true });
  else if (project) console.log(`packed project kept at ${project.root}`);
});

const node = (args: string[], cwd: string) => sh(process.execPath, args, { cwd, timeout: 60_000 });
const tsc = (cwd: string) =>
  sh(process.execPath, [join(project.app, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
    cwd,
    timeout: 120_000,
  });

/** A directory inside the installed app (so it resolves the app's node_modules). */
function sub(name: string, files: Record<string, string>): string {
  const dir = join(project.app, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** Settings shared by the TypeScript checks; the resolution mode varies. */
const compilerOptions = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  esModuleInterop: true,
  experimentalDecorators: true,
  target: 'ES2022',
  types: ['node'],
};

describe('packed tarballs', () => {
  it('carry LICENSE, README, repository metadata and no workspace: ranges', () => {
    expect(project.packages.map((p) => p.json.name)).toEqual(
      expect.arrayContaining([
        '@offthread/core',
        '@offthread/express',
        '@offthread/nestjs',
        '@offthread/diagnostics',
      ]),
    );
    for (const p of project.packages) {
      const j = p.packedJson as Record<string, any>;
      expect(p.files, p.json.name).toEqual(expect.arrayContaining(['LICENSE', 'README.md']));
      expect(readFileSync(join(repoRoot, p.dir, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
      expect(j.license, p.json.name).toBe('MIT');
      expect(j.repository?.directory, p.json.name).toBe(p.dir);
      expect(j.repository?.url, p.json.name).toMatch(/^git\+https:\/\/github\.com\/.+\.git$/);
      expect(j.homepage, p.json.name).toMatch(/^https:\/\//);
      expect(j.bugs?.url, p.json.name).toMatch(/^https:\/\//);
      expect(JSON.stringify(j), p.json.name).not.toContain('workspace:');
      // Links relative to the repository are dead on the registry's package page.
      const readme = readFileSync(join(repoRoot, p.dir, 'README.md'), 'utf8');
      const relative = [...readme.matchAll(/\]\((?!https?:|#|mailto:)([^)\s]+)\)/g)].map(
        (m) => m[1],
      );
      expect(relative, `${p.json.name} README links that only work inside the repository`).toEqual(
        [],
      );
      // No source maps or tests in the tarball; the dist it points at is all there.
      expect(p.files.filter((f) => f.endsWith('.map') || f.startsWith('test/'))).toEqual([]);
    }
  });

  it('load from ESM JavaScript, every entry point, and run a task', async () => {
    const specs = project.packages.flatMap(entryPoints);
    cpSync(join(fixtures, 'double.mjs'), join(project.app, 'esm/double.mjs'));
    const dir = sub('esm', {
      'main.mjs': `${specs.map((s, i) => `import * as m${i} from '${s}';`).join('\n')}
const modules = { ${specs.map((s, i) => `'${s}': m${i}`).join(', ')} };
for (const [name, m] of Object.entries(modules)) if (Object.keys(m).length === 0) throw new Error(name + ' has no exports');
const { Pool } = m${specs.indexOf('@offthread/core')};
const pool = new Pool({ filename: new URL('./double.mjs', import.meta.url), maxThreads: 1 });
console.log(JSON.stringify({ result: await pool.run(21), entries: Object.keys(modules).length }));
await pool.close();
`,
    });
    const { stdout } = await node(['main.mjs'], dir);
    expect(JSON.parse(stdout)).toEqual({ result: 42, entries: specs.length });
  });

  it('load from CommonJS, every entry point, and run a task', async () => {
    const specs = project.packages.flatMap(entryPoints);
    const dir = sub('cjs', {
      'package.json': '{ "type": "commonjs" }\n',
      'double.cjs': readFileSync(join(fixtures, 'double.cjs'), 'utf8'),
      'main.cjs': `const specs = ${JSON.stringify(specs)};
for (const s of specs) if (Object.keys(require(s)).length === 0) throw new Error(s + ' has no exports');
const { Pool } = require('@offthread/core');
const pool = new Pool({ filename: require('node:path').join(__dirname, 'double.cjs'), maxThreads: 1 });
pool.run(21).then(async (result) => {
  console.log(JSON.stringify({ result, entries: specs.length }));
  await pool.close();
});
`,
    });
    const { stdout } = await node(['main.cjs'], dir);
    expect(JSON.parse(stdout)).toEqual({ result: 42, entries: specs.length });
  });

  /** Imports every entry point and checks each one is typed (not `any`, not unresolved). */
  const typedImports = (specs: string[]) =>
    `${specs.map((s, i) => `import * as m${i} from '${s}';`).join('\n')}
type NotAny<T> = 0 extends 1 & T ? never : T;
${specs.map((_, i) => `export const typed${i}: NotAny<typeof m${i}> = m${i};`).join('\n')}
`;

  it.each([
    ['node10', { module: 'commonjs', moduleResolution: 'node' }, 'commonjs', ['index.ts']],
    ['node16', { module: 'node16', moduleResolution: 'node16' }, 'module', ['index.ts', 'cjs.cts']],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, 'module', ['index.ts']],
  ])(
    'type-check every entry point with TypeScript %s resolution',
    async (name, resolution, type, files) => {
      const specs = project.packages.flatMap(entryPoints);
      const dir = sub(`ts-${name}`, {
        'package.json': JSON.stringify({ type }),
        'tsconfig.json': JSON.stringify({
          compilerOptions: { ...compilerOptions, ...resolution },
          files,
        }),
        ...Object.fromEntries(files.map((f) => [f, typedImports(specs)])),
      });
      await tsc(dir);
    },
  );
});

/** Starts a README server through the listen patch; resolves with its base URL. */
async function serve(args: string[], cwd: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--require', join(fixtures, 'listen-patch.cjs'), ...args],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not listening after 60 s:\n${output}`)),
      60_000,
    );
    child.stderr!.on('data', (d) => {
      output += d;
      const m = /PACKED_LISTENING (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening:\n${output}`));
    });
  });
  return { url, child };
}

/** SIGTERM, as a process manager would; the example's shutdown path must end the process. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await exited;
  clearTimeout(timer);
  expect(signal, 'the example did not exit on SIGTERM within 20 s').not.toBe('SIGKILL');
  expect([0, null]).toContain(code);
}

function haveRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Wait until `child` prints a line matching `pattern` (60 s at most). */
function waitForOutput(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  let output = '';
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} not ready after 60 s:\n${output}`)),
      60_000,
    );
    const onData = (d: Buffer) => {
      output += d;
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code} before it was ready:\n${output}`));
    });
  });
}

function writeExample(name: string, files: ExampleFile[], extra: Record<string, string> = {}) {
  return sub(`readme-${name}`, {
    ...Object.fromEntries(files.map((f) => [f.path, f.code])),
    ...extra,
  });
}

const tsconfigNest = JSON.stringify({
  compilerOptions: {
    // What the Nest CLI's starter uses: CommonJS output and classic node resolution.
    module: 'commonjs',
    moduleResolution: 'node',
    target: 'ES2021',
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    strict: true,
    strictPropertyInitialization: false,
    skipLibCheck: true,
    esModuleInterop: true,
    outDir: 'dist',
    types: ['node'],
  },
  include: ['**/*.ts'],
  exclude: ['dist', 'node_modules'],
});

/** How each package's README example is run; packages without one are compiled or syntax-checked. */
const runners: Record<string, (files: ExampleFile[], readme: string) => Promise<void>> = {
  async '@offthread/core'(files) {
    const dir = writeExample('core', files);
    const { stdout } = await node(['app.js'], dir);
    expect(stdout.trim()).toBe('64 3');
  },

  async '@offthread/express'(files) {
    const dir = writeExample('express', files);
    const { url, child } = await serve(['server.js'], dir);
    const res = await fetch(`${url}/reports?rows=50`, { method: 'POST' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-rows')).toBe('50');
    expect(await res.json()).toMatchObject({ rows: 50, total: expect.any(Number) });
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toMatchObject({ ok: true });
    if (files.some((f) => f.path === 'handlers/export-csv.js')) {
      const csv = await fetch(`${url}/export.csv?rows=3`);
      expect(await csv.text()).toBe('id,square\n0,0\n1,1\n2,4\n');
    }
    await stop(child);
    if (files.some((f) => f.path === 'server.cjs')) {
      // The CommonJS variant of the same server.
      const cjs = await serve(['server.cjs'], dir);
      const res = await fetch(`${cjs.url}/reports?rows=5`, { method: 'POST' });
      expect(res.status).toBe(201);
      await stop(cjs.child);
    }
  },

  async '@offthread/nestjs'(files, readme) {
    // The README's main example is main.ts and what it imports; the other samples (ES modules,
    // config, testing) need packages an app adds for them and are compiled by the package's tests.
    const dir = writeExample('nestjs', files, {
      'package.json': '{ "type": "commonjs" }\n',
      'tsconfig.json': JSON.stringify({
        ...JSON.parse(tsconfigNest),
        include: undefined,
        files: ['main.ts'],
      }),
    });
    await tsc(dir);
    const { url, child } = await serve(['dist/main.js'], dir);
    // The request and answer the README promises: "`curl <host>/<path>` answers `<json>`".
    const promise = /`curl '?(?:https?:\/\/)?[\w.]+:\d+(\/[^`' ]*)'?` answers `(\{[^`]*\})`/.exec(
      readme,
    );
    expect(promise, 'the README says what `curl` on the example answers').not.toBeNull();
    // Both groups are required by the pattern: with a match (checked just above) they are set.
    const [, path = '', answer = ''] = promise ?? [];
    const res = await fetch(`${url}${path}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(answer));
    await stop(child);
  },

  async '@offthread/bullmq'(files) {
    // A real redis-server on a free loopback port. CI installs it (.ci/run) and must run this;
    // elsewhere a machine without it skips the example with a message, as packages/bullmq does.
    if (!haveRedisServer()) {
      if (process.env.CI) throw new Error('redis-server is not installed; CI must install it');
      console.warn(
        'README example of @offthread/bullmq not run: redis-server is not installed (apt-get install redis-server).',
      );
      return;
    }
    const dir = writeExample('bullmq', files, { 'package.json': '{ "type": "module" }\n' });
    const port = await freePort();
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(redis);
    try {
      await waitForOutput(redis, /Ready to accept connections/, 'redis-server');
      const env = { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}` };
      const worker = spawn(process.execPath, ['worker.js'], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(worker);
      await waitForOutput(worker, /worker \S+ ready/, 'the README worker');
      const { stdout } = await sh(process.execPath, ['caller.js'], {
        cwd: dir,
        env,
        timeout: 60_000,
      });
      expect(stdout.trim()).toBe('Q3: 3 rows');
      await stop(worker);
    } finally {
      redis.kill('SIGKILL');
    }
  },

  async '@offthread/diagnostics'(files) {
    const dir = writeExample('diagnostics', files, {
      'package.json': '{ "type": "commonjs" }\n',
      'tsconfig.json': tsconfigNest,
    });
    await tsc(dir);
    for (const file of files) {
      const { stdout } = await node([join('dist', file.path.replace(/\.ts$/, '.js'))], dir);
      expect(stdout.trim().length, `${file.path} printed nothing`).toBeGreaterThan(0);
    }
  },
};

/**
 * READMEs whose examples cannot run as written yet. Each entry says why; the test fails when an
 * entry is no longer needed, so the list only shrinks.
 */
const pendingReadmeExamples: Record<string, string> = {};

describe('README examples, as written, from the tarballs', () => {
  it('every published package README has a runnable example, and each one runs', async () => {
    const failures: string[] = [];
    for (const p of project.packages) {
      const readme = join(repoRoot, p.dir, 'README.md');
      if (!existsSync(readme)) {
        failures.push(`${p.json.name}: no README.md`);
        continue;
      }
      const readmeText = readFileSync(readme, 'utf8');
      const files = readmeExamples(readmeText);
      if (pendingReadmeExamples[p.json.name]) {
        if (files.length > 0 && runners[p.json.name])
          failures.push(`${p.json.name}: has a runner now; remove it from pendingReadmeExamples`);
        console.warn(
          `README example of ${p.json.name} not run: ${pendingReadmeExamples[p.json.name]}`,
        );
        continue;
      }
      if (files.length === 0) {
        failures.push(
          `${p.json.name}: README.md has no example this test can run: start the example's code block with a "// <file name>" line`,
        );
        continue;
      }
      const run =
        runners[p.json.name] ??
        (async (example: ExampleFile[]) => {
          // No runner yet: at least the example must compile (TS) or parse (JS).
          const name = p.json.name.replace(/^@offthread\//, '');
          const dir = writeExample(name, example, {
            'package.json': '{ "type": "module" }\n',
            'tsconfig.json': JSON.stringify({
              compilerOptions: { ...compilerOptions, module: 'node16', moduleResolution: 'node16' },
              include: ['**/*.ts'],
            }),
          });
          if (example.some((f) => f.path.endsWith('.ts'))) await tsc(dir);
          for (const f of example.filter((e) => /\.[mc]?js$/.test(e.path)))
            await node(['--check', f.path], dir);
        });
      try {
        await run(files, readmeText);
      } catch (error) {
        failures.push(`${p.json.name}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('the CLI bins start from the installed tarballs', async () => {
    for (const p of project.packages) {
      for (const bin of Object.keys((p.packedJson.bin ?? {}) as Record<string, string>)) {
        const { stdout } = await sh(join(project.app, 'node_modules/.bin', bin), ['--help'], {
          cwd: project.app,
          timeout: 60_000,
        });
        expect(stdout.length, `${bin} --help printed nothing`).toBeGreaterThan(0);
      }
    }
  });
});
