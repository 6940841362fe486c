import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DefaultTheme, defineConfig } from 'vitepress';

const root = fileURLToPath(new URL('..', import.meta.url));
const apiDir = join(root, 'api');

/** A page's title: its first `# ` heading, without TypeDoc's "Class: " style prefix. */
function titleOf(file: string): string {
  const heading = /^#\s+(.+)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? file;
  return heading
    .replace(/^(Class|Interface|Function|Variable|Type Alias|Enumeration): /, '')
    .replace(/\\/g, '');
}

const groupNames: Record<string, string> = {
  classes: 'Classes',
  functions: 'Functions',
  interfaces: 'Interfaces',
  'type-aliases': 'Types',
  variables: 'Constants',
  enumerations: 'Enums',
};

/** Sidebar items of one TypeDoc module folder: its index page, then a group per member kind. */
function moduleItems(dir: string): DefaultTheme.SidebarItem[] {
  const items: DefaultTheme.SidebarItem[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory()) continue;
    if (groupNames[name]) {
      items.push({
        text: groupNames[name],
        collapsed: true,
        items: readdirSync(path)
          .filter((f) => f.endsWith('.md'))
          .sort()
          .map((f) => ({
            text: titleOf(join(path, f)),
            link: `/${relative(root, join(path, f)).replace(/\.md$/, '')}`,
          })),
      });
    } else if (existsSync(join(path, 'index.md'))) {
      // A sub-module, e.g. the `worker` entry point of @offthread/core.
      items.push({
        text: `${name === 'index' ? 'main entry' : `/${name}`}`,
        link: `/${relative(root, path)}/`,
        collapsed: true,
        items: moduleItems(path),
      });
    }
  }
  return items;
}

/** The API sidebar, read from what TypeDoc generated into docs/api (run `pnpm build` or `pnpm api`). */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  const packages = ['core', 'express', 'nestjs', 'diagnostics'].filter((p) =>
    existsSync(join(apiDir, p, 'index.md')),
  );
  return [
    { text: 'API reference', link: '/api/' },
    ...packages.map((p) => ({
      text: `@offthread/${p}`,
      link: `/api/${p}/`,
      collapsed: p !== 'core',
      items: moduleItems(join(apiDir, p)),
    })),
  ];
}

const guide: DefaultTheme.SidebarItem[] = [
  {
    text: 'Introduction',
    items: [
      { text: 'Why offthread', link: '/guide/why' },
      { text: 'Getting started', link: '/guide/getting-started' },
    ],
  },
  {
    text: 'Packages',
    items: [
      { text: '@offthread/core', link: '/guide/core' },
      { text: '@offthread/express', link: '/guide/express' },
      { text: '@offthread/nestjs', link: '/guide/nestjs' },
      { text: '@offthread/diagnostics', link: '/guide/diagnostics' },
    ],
  },
  {
    text: 'Operating',
    items: [
      { text: 'Profiling: Clinic.js and offthread doctor', link: '/guide/profiling' },
      { text: 'Tuning', link: '/guide/tuning' },
      { text: 'Benchmarks', link: '/benchmarks' },
    ],
  },
  { text: 'API reference', link: '/api/' },
];

export default defineConfig({
  title: 'offthread',
  description: 'Move CPU-heavy work off the Node.js event loop, and see when you need to.',
  lang: 'en-US',
  cleanUrls: true,
  lastUpdated: false,
  // README.md explains the site to contributors; snippets are included into pages, not pages.
  srcExclude: [
    'README.md',
    'snippets/**',
    'test/**',
    'test-results/**',
    'scripts/**',
    'node_modules/**',
  ],
  head: [['link', { rel: 'icon', href: '/logo.svg', type: 'image/svg+xml' }]],
  markdown: { languageAlias: { mjs: 'js', cjs: 'js' } },
  themeConfig: {
    logo: '/logo.svg',
    nav: [
      { text: 'Guide', link: '/guide/why', activeMatch: '^/guide/' },
      { text: 'Benchmarks', link: '/benchmarks' },
      { text: 'API', link: '/api/', activeMatch: '^/api/' },
    ],
    sidebar: {
      '/guide/': guide,
      '/benchmarks': guide,
      '/api/': apiSidebar(),
    },
    search: { provider: 'local' },
    outline: { level: [2, 3] },
    footer: { message: 'MIT licensed.' },
  },
});
