#!/usr/bin/env node
/**
 * Keeps `typesVersions` in step with `exports` for subpath entries (`@offthread/core/worker`).
 *
 * TypeScript's classic `moduleResolution: node` (node10, what `module: commonjs` projects such as
 * older Nest starters use) ignores `exports`, so `import '@offthread/core/worker'` fails with TS2307
 * unless `typesVersions` maps the subpath to its declaration file. node16/nodenext and bundler read
 * `exports` and ignore this map. We point node10 at the `require` types, because a node10 project
 * compiles to CommonJS.
 *
 * Usage (in a package directory, or with package directories as arguments):
 *   node scripts/types-versions.mjs [dirs...]          check; exit 1 with the fix if out of step
 *   node scripts/types-versions.mjs --write [dirs...]  update package.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const write = process.argv.includes('--write');
const dirs = process.argv.slice(2).filter((a) => a !== '--write');
if (dirs.length === 0) dirs.push('.');

/** The declaration file a CommonJS consumer gets for one `exports` entry. */
function requireTypes(entry) {
  if (typeof entry === 'string') return entry.endsWith('.d.ts') ? entry : undefined;
  if (!entry || typeof entry !== 'object') return undefined;
  if (entry.require) return requireTypes(entry.require);
  if (typeof entry.types === 'string') return entry.types;
  return requireTypes(entry.default);
}

let failed = false;
for (const dir of dirs) {
  const file = join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  const wanted = {};
  for (const [subpath, entry] of Object.entries(pkg.exports ?? {})) {
    if (subpath === '.' || subpath === './package.json' || subpath.includes('*')) continue;
    const types = requireTypes(entry);
    if (types) wanted[subpath.slice(2)] = [types];
  }
  const expected = Object.keys(wanted).length ? { '*': wanted } : undefined;
  if (JSON.stringify(pkg.typesVersions) === JSON.stringify(expected)) continue;
  if (write) {
    const out = {};
    for (const [k, v] of Object.entries(pkg)) {
      if (k === 'typesVersions') continue;
      out[k] = v;
      if (k === 'exports' && expected) out.typesVersions = expected;
    }
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`${pkg.name}: typesVersions updated`);
  } else {
    failed = true;
    console.error(
      `${pkg.name}: "typesVersions" does not match the subpaths in "exports" (TypeScript's ` +
        `moduleResolution node10 needs it). Expected ${JSON.stringify(expected)}. ` +
        'Fix: node scripts/types-versions.mjs --write <package dir> (from the repository root).',
    );
  }
}
process.exit(failed ? 1 : 0);
