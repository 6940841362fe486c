// Runs after TypeDoc: gives the generated API index pages an introduction, taken from the
// packages themselves (package.json descriptions), so they say what each package is for, and
// drops the members a class inherits from Node's EventEmitter (Pool extends it): dozens of
// external methods that buried the pool's own API (see inheritedExternals below).
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const docs = fileURLToPath(new URL('..', import.meta.url));
const api = join(docs, 'api');
const packages = ['core', 'express', 'nestjs', 'diagnostics', 'bullmq'];
const entries = {
  index: () => 'what your application imports.',
  worker: () => 'what code running inside a pool thread imports (task modules, handler modules).',
  adapter: () => 'the shared building blocks of the framework adapters.',
};

const description = (dir) =>
  JSON.parse(readFileSync(join(docs, '../packages', dir, 'package.json'), 'utf8')).description ??
  '';

for (const dir of packages) {
  const file = join(api, dir, 'index.md');
  if (!existsSync(file)) continue;
  const name = `@offthread/${dir}`;
  let text = readFileSync(file, 'utf8');
  // The BullMQ package's guide is the scaling-out page.
  const guidePage = { bullmq: 'scaling-out' }[dir] ?? dir;
  const guide = existsSync(join(docs, 'guide', `${guidePage}.md`))
    ? ` For explanations and examples, read the [${name} guide](/guide/${guidePage}).`
    : '';
  text = text.replace(
    /^# (.+)\n/,
    `# $1\n\n${description(dir)}\n\nGenerated from the source by TypeDoc.${guide}\n`,
  );
  // Packages with several entry points list them as "modules": say what each one is.
  text = text.replace(
    /^- \[(index|worker|adapter)\]\((.+)\)$/gm,
    (_, entry, link) =>
      `- [${entry === 'index' ? name : `${name}/${entry}`}](${link}): ${entries[entry]()}`,
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

/**
 * A member TypeDoc copied from an external base class: its "Inherited from" names the base class
 * as plain code (members inherited from our own classes are links), and it does not implement one
 * of our interfaces (Pool's on/once/off are kept: they are TaskPool's event API).
 */
const inheritedExternal = (section) =>
  /#### Inherited from\n\n`[^`]+`/.test(section) && !section.includes('#### Implementation of');

/** Remove inherited external members from one TypeDoc page. */
export function inheritedExternals(text) {
  // Sections: "### name" up to the next heading of level 2 or 3.
  const parts = text.split(/(?=^#{2,3} )/m);
  let out = parts.filter((part) => !(part.startsWith('### ') && inheritedExternal(part))).join('');
  // Property tables: rows whose "Inherited from" cell is plain code.
  out = out.replace(/^\|.*\| `[A-Za-z]+\.[^`|]+` \|\n/gm, (row) =>
    /Inherited from/.test(row) ? row : '',
  );
  // A "## Methods" (or Properties) heading left without members.
  out = out.replace(/^## (Methods|Properties|Accessors)\n+(?=## |(?![\s\S]))/gm, '');
  return out.replace(/\n{3,}/g, '\n\n');
}

const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.md') ? [path] : [];
  });
if (existsSync(api)) {
  for (const file of walk(api)) {
    if (!/[\\/](classes|interfaces)[\\/]/.test(file)) continue;
    const text = readFileSync(file, 'utf8');
    const cleaned = inheritedExternals(text);
    if (cleaned !== text) writeFileSync(file, cleaned);
  }
}
