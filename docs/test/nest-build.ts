import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const docs = fileURLToPath(new URL('..', import.meta.url));

/**
 * Compile the NestJS snippets to CommonJS the way `tsc` does for a Nest app (decorator metadata
 * included) into docs/test/.nest-build, where docs/node_modules resolves. Returns the folder.
 */
export function buildNestSnippets(): string {
  const from = join(docs, 'snippets/nestjs');
  const out = join(docs, 'test/.nest-build');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
  for (const file of readdirSync(from)) {
    if (!file.endsWith('.ts')) continue;
    const { outputText } = ts.transpileModule(readFileSync(join(from, file), 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        useDefineForClassFields: false,
      },
    });
    writeFileSync(join(out, file.replace(/\.ts$/, '.js')), outputText);
  }
  return out;
}
