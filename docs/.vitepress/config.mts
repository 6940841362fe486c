import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DefaultTheme, defineConfig, type MarkdownRenderer } from 'vitepress';
import { chartsPlugin } from './charts.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const apiDir = join(root, 'api');
/** The repository root on the machine that builds the site; it must never show on a page. */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The public GitHub repository (an assumption until the project is published). */
export const repository = 'https://github.com/offthread/offthread';

/**
 * Build-machine details that output captured into docs/measurements may carry: absolute paths of
 * the checkout and of the Node binary. Replaced in every code block and text at build time.
 */
function machineNeutral(md: MarkdownRenderer): void {
  const replacements: [string, string][] = [
    [repoRoot, ''],
    [process.execPath, 'node'],
    ['/usr/bin/node', 'node'],
    ['/usr/local/bin/node', 'node'],
  ];
  const clean = (text: string) =>
    replacements.reduce((t, [from, to]) => t.split(from).join(to), text);
  md.core.ruler.push('offthread-machine-neutral', (state) => {
    for (const token of state.tokens) {
      token.content = clean(token.content);
      for (const child of token.children ?? []) child.content = clean(child.content);
    }
  });
  // `<<< file` snippets are read when the fence is rendered, after the core rules: clean there.
  const fence = md.renderer.rules.fence!;
  md.renderer.rules.fence = (...args) => clean(fence(...args));
}

/** Images open at full size in a new tab when clicked, and use the column's full width. */
function zoomableImages(md: MarkdownRenderer): void {
  const render =
    md.renderer.rules.image ??
    ((tokens, i, options, _env, self) => self.renderToken(tokens, i, options));
  md.renderer.rules.image = (tokens, i, options, env, self) => {
    const src = tokens[i].attrGet('src') ?? '';
    const img = render(tokens, i, options, env, self);
    if (/^(https?:)?\/\//.test(src) || src.endsWith('.svg')) return img;
    return `<a class="zoomable" href="${md.utils.escapeHtml(src)}" target="_blank" rel="noopener" title="Open the full-size image">${img}</a><span class="zoom-hint">Click the image to open it at full size.</span>`;
  };
}

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
  const packages = ['core', 'express', 'nestjs', 'diagnostics', 'bullmq'].filter((p) =>
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
      ...(existsSync(join(root, 'guide/bullmq.md'))
        ? [{ text: '@offthread/bullmq', link: '/guide/bullmq' }]
        : []),
    ],
  },
  {
    text: 'Operating',
    items: [
      { text: 'Profiling: Clinic.js and offthread doctor', link: '/guide/profiling' },
      { text: 'Profiling a NestJS app', link: '/guide/profiling-nest' },
      { text: 'Tuning', link: '/guide/tuning' },
      // Written by the BullMQ work; listed once the page exists.
      ...(existsSync(join(root, 'guide/scaling-out.md'))
        ? [{ text: 'Scaling out with BullMQ', link: '/guide/scaling-out' }]
        : []),
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
  markdown: {
    languageAlias: { mjs: 'js', cjs: 'js' },
    config(md) {
      machineNeutral(md);
      chartsPlugin(md);
      zoomableImages(md);
    },
  },
  // The API reference gets its own layout rules (custom.css: .api-page).
  transformPageData(pageData) {
    if (pageData.relativePath.startsWith('api/')) {
      pageData.frontmatter.pageClass = pageData.frontmatter.pageClass ?? 'api-page';
    }
  },
  themeConfig: {
    logo: '/logo.svg',
    nav: [
      { text: 'Guide', link: '/guide/why', activeMatch: '^/guide/' },
      { text: 'Benchmarks', link: '/benchmarks' },
      { text: 'API', link: '/api/', activeMatch: '^/api/' },
    ],
    socialLinks: [{ icon: 'github', link: repository }],
    editLink: { pattern: `${repository}/edit/main/docs/:path`, text: 'Edit this page on GitHub' },
    sidebar: {
      '/guide/': guide,
      '/benchmarks': guide,
      '/api/': apiSidebar(),
    },
    search: { provider: 'local' },
    outline: { level: [2, 3] },
    footer: {
      message: `MIT licensed. Source on <a href="${repository}">GitHub</a>.`,
    },
  },
});
