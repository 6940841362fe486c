// What a newcomer hit in the first minutes with the CLI (issue 12 §4), one test each.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Progress } from '../src/cli/progress.js';
import { colorEnabled, styler } from '../src/cli/style.js';
import { diagnose, formatReport, type RunReport } from '../src/index.js';
import { fixture, node, root, runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'offthread-newcomer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Wait (bounded) for a process to be gone: a stopped process is reaped asynchronously. */
async function gone(pid: number, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

/** A project whose `npm start` runs a fixture through npm and a shell, like a real app. */
function npmProject(name: string, fixtureName: string): { cwd: string; pidFile: string } {
  const cwd = join(dir, name);
  mkdirSync(cwd, { recursive: true });
  writeFileSync(
    join(cwd, 'package.json'),
    JSON.stringify({
      name,
      private: true,
      scripts: { start: `node ${JSON.stringify(fixture(fixtureName))}` },
    }),
  );
  return { cwd, pidFile: join(cwd, 'app.pid') };
}

const EXCLUDED_DIRS = new Set(['node_modules', 'dist', '.git', '.vitepress', 'api']);
function docFiles(from: string, out: string[] = []): string[] {
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (EXCLUDED_DIRS.has(e.name)) continue;
    const p = join(from, e.name);
    if (e.isDirectory()) docFiles(p, out);
    else if (/\.(md|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('documented commands run our package', () => {
  it('no README, doc or script says `npx offthread` (someone else’s package on npm)', () => {
    const repo = join(root, '..', '..');
    const files = [
      join(repo, 'README.md'),
      ...docFiles(join(repo, 'docs')),
      ...docFiles(join(repo, 'packages')),
      ...docFiles(join(repo, 'apps')),
      ...docFiles(join(repo, 'scripts')),
    ];
    expect(files.length).toBeGreaterThan(10);
    // A command line (`npx offthread doctor ...`), not the warnings that name the pitfall.
    const offenders = files.filter((f) =>
      /npx\s+offthread\s+(?:doctor|watch|help|-)/.test(readFileSync(f, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('`npx @offthread/diagnostics` runs our bin (its only one) in a project that installed it', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.bin)).toEqual(['offthread']);
    const project = join(dir, 'npx-project');
    mkdirSync(join(project, 'node_modules', '@offthread'), { recursive: true });
    mkdirSync(join(project, 'node_modules', '.bin'));
    writeFileSync(join(project, 'package.json'), '{"name":"npx-project","private":true}');
    symlinkSync(root, join(project, 'node_modules', '@offthread', 'diagnostics'));
    symlinkSync(
      '../@offthread/diagnostics/bin/offthread.js',
      join(project, 'node_modules', '.bin', 'offthread'),
    );
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        'npx',
        ['--no-install', '@offthread/diagnostics', 'doctor', '--help'],
        { cwd: project, env: { ...process.env, npm_config_offline: 'true' }, timeout: 60_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    expect(out).toContain('Usage: npx @offthread/diagnostics doctor [options] -- <command>');
  }, 90_000);
});

describe('doctor -- npm start', () => {
  it('runs the command in its own process group and stops the whole tree', async () => {
    const { cwd, pidFile } = npmProject('npm-app', 'pid-server.mjs');
    const json = join(dir, 'npm-app.json');
    const r = await runCli(
      ['doctor', '-q', '--duration', '4s', '--json', json, '--', 'npm', 'start'],
      {
        env: { PID_FILE: pidFile, npm_config_prefix: cwd },
        cwd,
        timeout: 60_000,
      },
    );
    expect(r.code).toBe(0);
    const appPid = Number(readFileSync(pidFile, 'utf8'));
    expect(await gone(appPid)).toBe(true);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    // The app reported, not npm: launchers do not claim the monitor.
    expect(report.pid).toBe(appPid);
    expect(report.samples.length).toBeGreaterThan(0);
  }, 90_000);

  it('says clearly when the app never listened, and stops it', async () => {
    const { cwd, pidFile } = npmProject('npm-idle', 'pid-idle.mjs');
    const r = await runCli(
      ['doctor', '-q', '--load', '-c 1 -d 1 /', '--listen-timeout', '3s', '--', 'npm', 'start'],
      { env: { PID_FILE: pidFile }, cwd, timeout: 60_000 },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('"npm start" did not listen on a TCP port within 3 s');
    const appPid = Number(readFileSync(pidFile, 'utf8'));
    expect(await gone(appPid)).toBe(true);
  }, 90_000);
});

describe('--json', () => {
  it('`--json -` writes the JSON report to stdout, and no file named "-"', async () => {
    const r = await runCli(['doctor', '-q', '--json', '-', '--', node, fixture('busy-wait.mjs')], {
      env: { RUN_MS: '1500' },
    });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as RunReport;
    expect(report.version).toBe(1);
    expect(r.stderr).toContain('Verdict:');
    expect(existsSync(join(root, '-'))).toBe(false);
  });

  it('an unwritable path: a clear message and the usage exit code, before the app runs', async () => {
    const r = await runCli([
      'doctor',
      '-q',
      '--json',
      '/nonexistent-offthread-dir/report.json',
      '--',
      node,
      fixture('busy-wait.mjs'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '--json: cannot write "/nonexistent-offthread-dir/report.json": the directory /nonexistent-offthread-dir does not exist',
    );
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('ending and failing', () => {
  it('`watch --fail-on event-loop` exits 1 when the loop was blocked', async () => {
    const r = await runCli(
      ['watch', '--fail-on', 'event-loop', '--', node, fixture('busy-wait.mjs')],
      {
        env: { RUN_MS: '3500' },
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('failing because of --fail-on event-loop');
  });

  it('a --duration beyond what a timer holds is honoured, without TimeoutOverflowWarning', async () => {
    const r = await runCli(
      ['doctor', '-q', '--duration', '3000000000', '--', node, fixture('busy-wait.mjs')],
      { env: { RUN_MS: '1500' } },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('TimeoutOverflowWarning');
    // The app ended the run, not a timer that fired after 1 ms.
    expect(r.stdout).toContain('(ended: exit)');
  });

  it('a run too short for a verdict says so instead of "healthy"', async () => {
    const r = await runCli(['doctor', '-q', '--', node, fixture('quick-exit.mjs')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('TOO LITTLE DATA');
    expect(r.stdout).not.toContain('HEALTHY');
  });
});

describe('help and output', () => {
  it('each command has its own --help, which says how to stop', async () => {
    const doctor = await runCli(['doctor', '--help']);
    const watch = await runCli(['watch', '--help']);
    const global = await runCli(['--help']);
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toContain('Usage: npx @offthread/diagnostics doctor');
    expect(doctor.stdout).toContain('--load');
    expect(doctor.stdout).toContain('Ctrl+C');
    expect(watch.stdout).toContain('Usage: npx @offthread/diagnostics watch');
    expect(watch.stdout).not.toContain('--load');
    expect(global.stdout).not.toBe(doctor.stdout);
    const usage = await runCli(['doctor', '--bogus', '--', node, fixture('crash.mjs')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('npx @offthread/diagnostics doctor --help');
  });

  it('"1 block", not "1 blocks", and ms rounded', () => {
    const report = JSON.parse(
      readFileSync(join(root, 'test', 'fixtures', 'one-block-report.json'), 'utf8'),
    ) as RunReport;
    report.verdict = diagnose({
      sinceStart: report.sinceStart!,
      blocks: report.blocks,
      samples: report.samples,
    });
    const text = formatReport(report);
    expect(text).toContain('· 1 block (166 ms)');
    expect(text).not.toContain('166.068');
    expect(text).toContain('1 block over 50 ms, 166 ms blocked in total');
  });

  it('the spinner never shares a line with the app’s output', async () => {
    const writes: string[] = [];
    const stream = {
      isTTY: true,
      write(s: string) {
        writes.push(s);
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const p = new Progress(stream, Date.now(), null, true);
    p.start();
    p.passThrough(stream, 'app: half a line');
    await new Promise((r) => setTimeout(r, 700));
    const during = writes.slice(1).join('');
    p.passThrough(stream, ' and the rest\n');
    await new Promise((r) => setTimeout(r, 700));
    p.stop();
    // No spinner frame while the app's line was open; frames again once it ended.
    expect(during).not.toContain('offthread:');
    const all = writes.join('');
    expect(all).toContain('app: half a line and the rest\n');
    expect(all.slice(all.indexOf('the rest\n'))).toContain('Ctrl+C to stop');
    // Every spinner frame starts by clearing its line.
    for (const w of writes.filter((x) => x.includes('offthread:'))) {
      expect(w.startsWith('\r\u001b[K')).toBe(true);
    }
  });

  it('colours only on a terminal, never with NO_COLOR', () => {
    const tty = { isTTY: true } as NodeJS.WriteStream;
    const pipe = { isTTY: false } as NodeJS.WriteStream;
    const saved = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
    try {
      delete process.env.NO_COLOR;
      delete process.env.FORCE_COLOR;
      expect(colorEnabled(tty)).toBe(true);
      expect(colorEnabled(pipe)).toBe(false);
      expect(styler(tty)('red', 'x')).toContain('\x1b[');
      process.env.NO_COLOR = '1';
      expect(colorEnabled(tty)).toBe(false);
      expect(styler(tty)('red', 'x')).toBe('x');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('autocannon is not installed with the library', () => {
  it('is an optional peer, and --load without it says what to install', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.dependencies?.autocannon).toBeUndefined();
    expect(pkg.peerDependenciesMeta.autocannon).toEqual({ optional: true });
    // A copy of the package with no node_modules: what `npx @offthread/diagnostics` installs.
    const bare = join(dir, 'bare');
    for (const p of ['bin', 'dist', 'package.json'])
      cpSync(join(root, p), join(bare, p), { recursive: true });
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        node,
        [
          join(bare, 'bin', 'offthread.js'),
          'doctor',
          '-q',
          '--load',
          '-c 1 /',
          '--',
          node,
          fixture('crash.mjs'),
        ],
        // No NODE_PATH: pnpm's shims set one that would find the workspace's autocannon.
        { cwd: bare, timeout: 30_000, env: { ...process.env, NODE_PATH: '' } },
        (err, _stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(r.stderr).toContain('npm install -D autocannon');
    expect(r.code).toBe(3);
  });
});
