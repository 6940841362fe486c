/**
 * Stages what the tests run: the built package copied into `<stage>/node_modules/@offthread/nestjs`
 * (as a consumer would install it, so its peers resolve to the Nest version of the package
 * running the tests), and the TypeScript fixtures compiled to CommonJS the way `tsc` does for a
 * Nest app (decorator metadata included). Main thread and worker threads load the same files.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stageDir } from './stage.js';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const fixturesDir = join(packageDir, 'test/fixtures');

export default function setup(): void {
  const dist = join(packageDir, 'dist');
  if (!existsSync(join(dist, 'worker-entry.js'))) {
    throw new Error(
      `${dist} is missing or incomplete: run \`pnpm --filter @offthread/nestjs build\` first`,
    );
  }
  rmSync(stageDir, { recursive: true, force: true });
  const installed = join(stageDir, 'node_modules/@offthread/nestjs');
  mkdirSync(installed, { recursive: true });
  cpSync(join(packageDir, 'package.json'), join(installed, 'package.json'));
  cpSync(dist, join(installed, 'dist'), { recursive: true });
  writeFileSync(join(stageDir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  const ts = createRequire(join(packageDir, 'package.json'))(
    'typescript',
  ) as typeof import('typescript');
  for (const file of walk(fixturesDir)) {
    if (!file.endsWith('.ts')) continue;
    // Fixtures under esm/ become ES modules (.mjs), the rest CommonJS like a default Nest build.
    const esm = relative(fixturesDir, file).startsWith('esm');
    // Fixtures under nometa/ are compiled the way esbuild, tsx and Vitest compile: no metadata.
    const metadata = !relative(fixturesDir, file).startsWith('nometa');
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: esm ? ts.ModuleKind.ESNext : ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        experimentalDecorators: true,
        emitDecoratorMetadata: metadata,
        esModuleInterop: true,
        useDefineForClassFields: false,
        // ES module fixtures carry source maps to their .ts sources, as `tsc --sourceMap` output
        // does, so a test can run them with `node --enable-source-maps`.
        ...(esm ? { inlineSourceMap: true, sourceRoot: pathToFileURL(dirname(file)).href } : {}),
      },
    });
    const out = join(stageDir, 'fixtures', relative(fixturesDir, file)).replace(
      /\.ts$/,
      esm ? '.mjs' : '.js',
    );
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  stageReadmeExamples(ts);
}

/**
 * The README's examples (examples/readme), compiled twice as an app would be: CommonJS (the
 * Nest CLI's default up to Nest 11) into `<stage>/examples/readme`, and ES modules (Nest 12's
 * `nest new`) into `<stage>/examples/readme-esm`, where `app.module.esm.ts` is the app module.
 */
function stageReadmeExamples(ts: typeof import('typescript')): void {
  const from = join(packageDir, 'examples/readme');
  for (const esm of [false, true]) {
    const to = join(stageDir, 'examples', esm ? 'readme-esm' : 'readme');
    mkdirSync(to, { recursive: true });
    writeFileSync(join(to, 'package.json'), `{ "type": "${esm ? 'module' : 'commonjs'}" }\n`);
    for (const file of walk(from)) {
      const name = relative(from, file);
      if (!name.endsWith('.ts') || name.endsWith('.spec.ts') || name === 'vitest.config.ts')
        continue;
      if (name === (esm ? 'app.module.ts' : 'app.module.esm.ts')) continue;
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: {
          module: esm ? ts.ModuleKind.ESNext : ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2022,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          esModuleInterop: true,
          useDefineForClassFields: false,
        },
      });
      const out = join(
        to,
        name.replace('app.module.esm.ts', 'app.module.ts').replace(/\.ts$/, '.js'),
      );
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, outputText);
    }
  }
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}
