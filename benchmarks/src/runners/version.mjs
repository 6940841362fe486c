import { readFileSync } from 'node:fs';

/**
 * The installed version of a dependency of this package, read from its package.json on disk
 * (some packages do not export `./package.json`).
 * @param {string} pkg
 */
export function installedVersion(pkg) {
  const url = new URL(`../../node_modules/${pkg}/package.json`, import.meta.url);
  try {
    return JSON.parse(readFileSync(url, 'utf8')).version;
  } catch {
    return 'unknown';
  }
}
