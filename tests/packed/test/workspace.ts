/** The workspace as this test sees it: which packages exist and which of them we publish. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface WorkspacePackage {
  /** Directory relative to the repository root, e.g. `packages/core`. */
  dir: string;
  json: {
    name: string;
    version: string;
    private?: boolean;
    exports?: Record<string, unknown>;
    peerDependencies?: Record<string, string>;
    bin?: Record<string, string>;
    [key: string]: unknown;
  };
}

/** Directories listed by pnpm-workspace.yaml (its simple `dir/*` and `dir` forms). */
export function workspacePackageDirs(): string[] {
  const yaml = readFileSync(join(repoRoot, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...yaml.matchAll(/^\s*-\s*['"]?([^'"\s#]+)['"]?/gm)].flatMap(([, glob]) =>
    glob === undefined ? [] : [glob],
  );
  const dirs: string[] = [];
  for (const glob of globs) {
    if (glob.endsWith('/*')) {
      const parent = glob.slice(0, -2);
      if (!existsSync(join(repoRoot, parent))) continue;
      for (const name of readdirSync(join(repoRoot, parent)).sort()) {
        if (existsSync(join(repoRoot, parent, name, 'package.json')))
          dirs.push(`${parent}/${name}`);
      }
    } else if (existsSync(join(repoRoot, glob, 'package.json'))) {
      dirs.push(glob);
    }
  }
  return dirs;
}

/** Every workspace package that is published (not private). */
export function publishedPackages(): WorkspacePackage[] {
  return workspacePackageDirs()
    .map((dir) => ({
      dir,
      json: JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')),
    }))
    .filter((p) => !p.json.private);
}
