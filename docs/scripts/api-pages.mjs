// Runs after TypeDoc: gives the generated API index pages an introduction, taken from the
// packages themselves (package.json descriptions), so they say what each package is for.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const docs = fileURLToPath(new URL('..', import.meta.url));
const api = join(docs, 'api');
const packages = ['core', 'express', 'nestjs', 'diagnostics'];
const entries = {
  index: () => 'what your application imports.',
  worker: () => 'what code running inside a pool thread imports (task modules, handler modules).',
};

const description = (dir) =>
  JSON.parse(readFileSync(join(docs, '../packages', dir, 'package.json'), 'utf8')).description ??
  '';

for (const dir of packages) {
  const file = join(api, dir, 'index.md');
  if (!existsSync(file)) continue;
  const name = `@offthread/${dir}`;
  let text = readFileSync(file, 'utf8');
  const guide = `[${name} guide](/guide/${dir})`;
  text = text.replace(
    /^# (.+)\n/,
    `# $1\n\n${description(dir)}\n\nGenerated from the source by TypeDoc. For explanations and examples, read the ${guide}.\n`,
  );
  // Packages with several entry points list them as "modules": say what each one is.
  text = text.replace(
    /^- \[(index|worker)\]\((.+)\)$/gm,
    (_, entry, link) =>
      `- [${entry === 'index' ? name : `${name}/worker`}](${link}): ${entries[entry]()}`,
  );
  text = text.replace('## Modules', '## Entry points');
  writeFileSync(file, text);
}

const index = join(api, 'index.md');
if (existsSync(index)) {
  writeFileSync(
    index,
    [
      '# API reference',
      '',
      'Generated from the TypeScript source of each package by TypeDoc when the site is built, so it',
      'always matches the code: every export, its parameters, options with their defaults, and the',
      'errors it throws. The [guides](/guide/getting-started) explain how the pieces fit together.',
      '',
      '| package | what it is |',
      '| --- | --- |',
      ...packages
        .filter((dir) => existsSync(join(api, dir, 'index.md')))
        .map((dir) => `| [@offthread/${dir}](./${dir}/index.md) | ${description(dir)} |`),
      '',
    ].join('\n'),
  );
}
