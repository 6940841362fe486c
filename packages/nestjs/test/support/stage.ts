import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Where global-setup stages the package and the compiled fixtures. A compat package (another
 * Nest major) sets OFFTHREAD_NEST_STAGE to a folder of its own, so the staged copy resolves that
 * package's Nest.
 */
export const stageDir =
  process.env.OFFTHREAD_NEST_STAGE ?? fileURLToPath(new URL('../.stage', import.meta.url));

const stageRequire = createRequire(join(stageDir, 'index.js'));

/** A compiled fixture, loaded by Node itself (not through Vitest), exactly as the worker loads it. */
export function fixture<T>(name: string): T {
  return stageRequire(`./fixtures/${name}`) as T;
}

/** A package as the staged app resolves it (e.g. the Nest version under test). */
export function stagedPackage<T>(name: string): T {
  return stageRequire(name) as T;
}

/** Node's own import(), out of Vitest's reach, for the ES module fixtures. */
const nativeImport = createRequire(import.meta.url)('./native-import.cjs') as (
  url: string,
) => Promise<unknown>;

export function esmFixture<T>(name: string): Promise<T> {
  return nativeImport(pathToFileURL(join(stageDir, 'fixtures', name)).href) as Promise<T>;
}
