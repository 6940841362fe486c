/**
 * Packs every published package with `pnpm pack` (which rewrites `workspace:` ranges the way a
 * publish does) and installs the tarballs with plain npm into a fresh project outside the
 * workspace, once per test run.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { publishedPackages, repoRoot, type WorkspacePackage } from './workspace.js';

const execFileP = promisify(execFile);

/** Run a command; on failure the error carries its output. */
export async function sh(
  command: string,
  args: string[],
  options: { cwd: string; timeout?: number; env?: NodeJS.ProcessEnv },
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeout: options.timeout ?? 120_000,
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} failed in ${options.cwd}:\n${stdout}\n${stderr}`,
      {
        cause: error,
      },
    );
  }
}

/** pnpm: the one running this test (turbo → pnpm run), or the pinned version through npx. */
function pnpm(args: string[], cwd: string) {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return sh(process.execPath, [execPath, ...args], { cwd });
  return sh('npx', ['-y', 'pnpm@10.34.8', ...args], { cwd });
}

export interface Packed extends WorkspacePackage {
  tarball: string;
  /** package.json as it is inside the tarball. */
  packedJson: WorkspacePackage['json'];
  /** Paths inside the tarball, without the leading `package/`. */
  files: string[];
}

export interface PackedProject {
  root: string;
  tarballs: string;
  /** The npm project with every tarball installed. */
  app: string;
  packages: Packed[];
}

/** Registry versions for the packages' required peers: the ones the workspace tests with. */
function peerVersions(packages: WorkspacePackage[]): Record<string, string> {
  const wanted: Record<string, string> = {};
  for (const { json } of packages) {
    const peers = (json.peerDependencies ?? {}) as Record<string, string>;
    const meta = (json.peerDependenciesMeta ?? {}) as Record<string, { optional?: boolean }>;
    const dev = (json.devDependencies ?? {}) as Record<string, string>;
    for (const [name, range] of Object.entries(peers)) {
      if (name.startsWith('@offthread/') || meta[name]?.optional) continue;
      wanted[name] = dev[name] && !dev[name].startsWith('npm:') ? dev[name] : range;
    }
  }
  return wanted;
}

export async function packAndInstall(): Promise<PackedProject> {
  const root = mkdtempSync(join(tmpdir(), 'offthread-packed-'));
  const tarballs = join(root, 'tarballs');
  mkdirSync(tarballs);
  const packages: Packed[] = [];
  for (const pkg of publishedPackages()) {
    const dir = join(repoRoot, pkg.dir);
    if (!existsSync(join(dir, 'dist')))
      throw new Error(`${pkg.json.name} is not built: run the build first (turbo does, for test)`);
    const before = new Set(readdirSync(tarballs));
    await pnpm(['pack', '--pack-destination', tarballs], dir);
    const tarball = readdirSync(tarballs).find((f) => !before.has(f) && f.endsWith('.tgz'));
    if (!tarball) throw new Error(`pnpm pack wrote no tarball for ${pkg.json.name}`);
    const path = join(tarballs, tarball);
    const { stdout: list } = await sh('tar', ['-tzf', path], { cwd: root });
    const { stdout: packedJson } = await sh('tar', ['-xzOf', path, 'package/package.json'], {
      cwd: root,
    });
    packages.push({
      ...pkg,
      tarball: path,
      packedJson: JSON.parse(packedJson),
      files: list
        .split('\n')
        .filter(Boolean)
        .map((f) => f.replace(/^package\//, '')),
    });
  }

  const rootJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const nestDev = JSON.parse(readFileSync(join(repoRoot, 'packages/nestjs/package.json'), 'utf8'))
    .devDependencies as Record<string, string>;
  const app = join(root, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify(
      {
        name: 'packed-app',
        private: true,
        type: 'module',
        dependencies: {
          ...Object.fromEntries(packages.map((p) => [p.json.name, `file:${p.tarball}`])),
          ...peerVersions(packages),
          // Every Nest HTTP app has a platform; the README example serves a request through it.
          '@nestjs/platform-express': nestDev['@nestjs/platform-express'],
        },
        devDependencies: {
          typescript: rootJson.devDependencies.typescript,
          '@types/node': rootJson.devDependencies['@types/node'],
          '@types/express': '^5.0.0',
        },
      },
      null,
      2,
    )}\n`,
  );
  // Plain npm, as a user would; a private cache would redownload everything each run.
  await sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline'], {
    cwd: app,
    timeout: 240_000,
  });
  return { root, tarballs, app, packages };
}

/** Every subpath a package exports (`@offthread/core`, `@offthread/core/worker`, ...). */
export function entryPoints(pkg: Packed): string[] {
  return Object.keys(pkg.packedJson.exports ?? { '.': {} })
    .filter((s) => s !== './package.json' && !s.includes('*'))
    .map((s) => (s === '.' ? pkg.json.name : `${pkg.json.name}/${s.slice(2)}`));
}
