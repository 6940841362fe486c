/**
 * The release plan Changesets would apply: no package gets a major bump that no changeset asked
 * for. The adapters list @offthread/core as a peer; by default a core minor would move them from
 * 0.x to 1.0.0 (see .changeset/README.md). Checks the rule, not a list, because changesets come
 * and go with every change.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { publishedPackages, repoRoot, workspacePackageDirs } from './workspace.js';

const run = promisify(execFile);
const changesetBin = join(repoRoot, 'node_modules/@changesets/cli/bin.js');

interface Release {
  name: string;
  type: 'major' | 'minor' | 'patch' | 'none';
  oldVersion?: string;
  newVersion?: string;
  changesets: string[];
}
interface Plan {
  changesets: { id: string; releases: { name: string; type: string }[] }[];
  releases: Release[];
}

/** `changeset status --output` in `cwd`; the JSON plan it wrote. */
async function status(cwd: string): Promise<Plan> {
  const out = join(mkdtempSync(join(tmpdir(), 'offthread-plan-')), 'plan.json');
  try {
    await run(process.execPath, [changesetBin, 'status', '--output', out], {
      cwd,
      timeout: 60_000,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`changeset status failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error });
  }
  const plan = JSON.parse(readFileSync(out, 'utf8')) as Plan;
  rmSync(dirname(out), { recursive: true, force: true });
  return plan;
}

const major = (version: string | undefined) => Number(version?.split('.')[0] ?? 0);

/** Packages whose major version moves although no changeset asked for a major bump of them. */
function unintendedMajors(plan: Plan): string[] {
  const askedMajor = new Set(
    plan.changesets.flatMap((c) => c.releases.filter((r) => r.type === 'major').map((r) => r.name)),
  );
  return plan.releases
    .filter((r) => r.newVersion && major(r.newVersion) > major(r.oldVersion))
    .filter((r) => !askedMajor.has(r.name))
    .map((r) => `${r.name} ${r.oldVersion} -> ${r.newVersion}`);
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/**
 * A throw-away git repository with the workspace's package.json files, its Changesets config and
 * the given changesets: the real dependency graph, a release of our choosing.
 */
async function sandbox(changesets: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'offthread-changesets-'));
  scratch.push(dir);
  for (const file of ['package.json', 'pnpm-workspace.yaml', '.changeset/config.json']) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(repoRoot, file), join(dir, file));
  }
  for (const pkgDir of workspacePackageDirs()) {
    mkdirSync(join(dir, pkgDir), { recursive: true });
    cpSync(join(repoRoot, pkgDir, 'package.json'), join(dir, pkgDir, 'package.json'));
  }
  for (const [id, body] of Object.entries(changesets)) {
    writeFileSync(join(dir, '.changeset', `${id}.md`), body);
  }
  const git = (...args: string[]) =>
    run('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', ...args], { cwd: dir });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'sandbox');
  return dir;
}

describe('release plan', () => {
  it('the changesets in the repository plan no major bump that none of them asks for', async () => {
    // The repository's own changesets, planned in a sandbox: `changeset status` in the checkout
    // itself depends on its git state (a CI checkout may have no local main branch).
    const ids = readdirSync(join(repoRoot, '.changeset')).filter(
      (f) => f.endsWith('.md') && f !== 'README.md',
    );
    expect(ids.length).toBeGreaterThan(0);
    const dir = await sandbox(
      Object.fromEntries(
        ids.map((f) => [
          f.replace(/\.md$/, ''),
          readFileSync(join(repoRoot, '.changeset', f), 'utf8'),
        ]),
      ),
    );
    const plan = await status(dir);
    expect(plan.releases.length).toBeGreaterThan(0);
    expect(unintendedMajors(plan)).toEqual([]);
    for (const release of plan.releases.filter((r) => r.newVersion)) {
      // Every package we publish is 0.x and stays there until someone decides on 1.0.0.
      if (major(release.oldVersion) === 0 && release.type !== 'major')
        expect(release.newVersion, release.name).toMatch(/^0\./);
    }
  });

  it('a core minor alone leaves the adapters that list core as a peer at 0.x', async () => {
    const dir = await sandbox({
      'core-feature': '---\n"@offthread/core": minor\n---\n\nA feature.\n',
    });
    const plan = await status(dir);
    const versions = Object.fromEntries(plan.releases.map((r) => [r.name, r.newVersion]));
    const core = JSON.parse(readFileSync(join(repoRoot, 'packages/core/package.json'), 'utf8'));
    const [maj, min] = core.version.split('.').map(Number);
    expect(versions['@offthread/core']).toBe(`${maj}.${min + 1}.0`);
    expect(unintendedMajors(plan)).toEqual([]);
    const peersOfCore = publishedPackages().filter(
      (p) => p.json.peerDependencies?.['@offthread/core'],
    );
    expect(peersOfCore.map((p) => p.json.name)).toEqual(
      expect.arrayContaining(['@offthread/express', '@offthread/nestjs']),
    );
    for (const p of peersOfCore) {
      expect(major(versions[p.json.name] ?? p.json.version), p.json.name).toBe(
        major(p.json.version),
      );
    }
  });

  it('a core minor together with adapter minors gives the adapters minors, not majors', async () => {
    const dir = await sandbox({
      'core-feature': '---\n"@offthread/core": minor\n---\n\nA feature.\n',
      'adapter-feature':
        '---\n"@offthread/express": minor\n"@offthread/nestjs": minor\n---\n\nUses it.\n',
    });
    const plan = await status(dir);
    const types = Object.fromEntries(plan.releases.map((r) => [r.name, r.type]));
    expect(types['@offthread/express']).toBe('minor');
    expect(types['@offthread/nestjs']).toBe('minor');
    expect(unintendedMajors(plan)).toEqual([]);
  });
});
