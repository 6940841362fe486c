/**
 * The built site in headless Chromium: every page reachable from the home page and the sidebars
 * loads with HTTP 200, is not VitePress's 404 page, has content, logs no console error, and every
 * `#anchor` an internal link points at exists. At 1280 px, no code block scrolls sideways, every
 * image loads and is shown at a readable size (or opens full size on click), and no page shows
 * the build machine's paths. Saves a screenshot of the home page to test-results/home.png.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from './static-server.js';

const docs = fileURLToPath(new URL('..', import.meta.url));
const dist = join(docs, '.vitepress/dist');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);

if (!haveChromium) {
  const message = `Chromium not found at ${chromiumPath}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`;
  if (process.env.CI)
    throw new Error(`${message} CI is set, so the browser test cannot be skipped.`);
  console.warn(`Skipping the docs browser test. ${message}`);
}

/** Main content shorter than this (characters) counts as an empty page. */
const MIN_TEXT = 100;
/** The width the layout checks use: a common laptop, where the outline column is shown. */
const VIEWPORT = { width: 1280, height: 900 };
/** Absolute paths of this checkout: captured tool output must not carry them onto a page. */
const machinePaths = [fileURLToPath(new URL('../..', import.meta.url)), '/usr/bin/node'];

describe.skipIf(!haveChromium)('docs site in a browser', () => {
  let browser: Browser;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    if (!existsSync(join(dist, 'index.html'))) {
      // Normally turbo runs `build` first; on its own, build here.
      execFileSync('pnpm', ['run', 'build'], { cwd: docs, stdio: 'inherit' });
    }
    ({ url: base, server } = await serveStatic(dist));
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('renders the home page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const response = await page.goto(`${base}/`, { waitUntil: 'networkidle' });
    expect(response?.status()).toBe(200);
    await expect(page.locator('.VPHero .name').textContent()).resolves.toContain('offthread');
    mkdirSync(join(docs, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(docs, 'test-results/home.png') });
    await page.close();
  });

  it('draws a chart next to each benchmark and measurement table, as inline SVG', async () => {
    const page = await browser.newPage({ viewport: VIEWPORT });
    const counts: Record<string, number> = {};
    for (const path of ['/benchmarks', '/guide/profiling-nest', '/guide/why']) {
      await page.goto(base + path, { waitUntil: 'load' });
      counts[path] = await page.evaluate(
        () =>
          [...document.querySelectorAll('.vp-doc figure.chart svg')].filter(
            (svg) =>
              // A chart right after its table, with one bar per row of data.
              svg.closest('.charts')?.previousElementSibling?.tagName === 'TABLE' &&
              svg.querySelectorAll('rect').length >= 2,
          ).length,
      );
    }
    await page.close();
    // RESULTS.md: 5 sections; the summary table: latency and throughput.
    expect(counts['/benchmarks']).toBeGreaterThanOrEqual(7);
    expect(counts['/guide/profiling-nest']).toBeGreaterThanOrEqual(1);
    expect(counts['/guide/why']).toBeGreaterThanOrEqual(1);
  });

  it("shows the Pool's own API, without the members it inherits from EventEmitter", async () => {
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(`${base}/api/core/index/classes/Pool`, { waitUntil: 'load' });
    const { headings, height } = await page.evaluate(() => ({
      headings: [...document.querySelectorAll('.vp-doc h3')].map((h) =>
        (h.textContent ?? '').replace(/\u200b|#/g, '').trim(),
      ),
      height: document.documentElement.scrollHeight,
    }));
    await page.close();
    expect(headings).toEqual(expect.arrayContaining(['run()', 'close()', 'destroy()', 'stats()']));
    for (const inherited of ['emit()', 'addListener()', 'listenerCount()', 'setMaxListeners()'])
      expect(headings).not.toContain(inherited);
    // It was about 41,000 px tall, mostly EventEmitter's documentation.
    expect(height).toBeLessThan(15_000);
  });

  it('has no broken internal link, console error or empty page', async () => {
    const queue: string[] = ['/', '/guide/why', '/api/']; // the home page, and each sidebar
    const seen = new Set(queue);
    const problems: string[] = [];
    /** Every image shown on some page. */
    const images: string[] = [];
    /** Anchors that links point at, by page path, with the page that links there. */
    const anchors = new Map<string, Map<string, string>>();
    /** The element ids of each visited page, to check anchors once every page is known. */
    const idsByPage = new Map<string, Set<string>>();

    const visit = async (page: Page, path: string) => {
      const response = await page.goto(base + path, { waitUntil: 'load' });
      if (response?.status() !== 200) {
        problems.push(`${path}: HTTP ${response?.status()}`);
        return;
      }
      // Images must have finished loading before their sizes mean anything.
      await page.evaluate(() =>
        Promise.all(
          [...document.images].map((img) =>
            img.complete
              ? null
              : new Promise((resolve) => {
                  img.addEventListener('load', resolve);
                  img.addEventListener('error', resolve);
                }),
          ),
        ),
      );
      const info = await page.evaluate(() => ({
        notFound: document.querySelector('.NotFound') !== null,
        text: document.querySelector('.vp-doc, .VPHome')?.textContent?.trim() ?? '',
        bodyText: document.body.textContent ?? '',
        ids: [...document.querySelectorAll('[id]')].map((e) => e.id),
        links: [...document.querySelectorAll('a[href]')].map((a) => (a as HTMLAnchorElement).href),
        // Code blocks wider than their box (a sideways scrollbar), with their first line.
        overflowing: [...document.querySelectorAll('.vp-doc div[class*="language-"] pre')]
          .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
          .map((pre) => ({
            line: (pre.textContent ?? '').split('\n')[0].slice(0, 60),
            scrollWidth: pre.scrollWidth,
            clientWidth: pre.clientWidth,
          })),
        pageScrollWidth: document.documentElement.scrollWidth,
        pageWidth: document.documentElement.clientWidth,
        images: [...document.querySelectorAll<HTMLImageElement>('.vp-doc img, .VPHome img')].map(
          (img) => ({
            src: img.getAttribute('src') ?? '',
            naturalWidth: img.naturalWidth,
            shownWidth: img.getBoundingClientRect().width,
            columnWidth: (img.closest('.vp-doc, .VPHome') as HTMLElement | null)?.clientWidth ?? 0,
            zoomLink: img.closest('a[href]')?.getAttribute('href') ?? null,
          }),
        ),
      }));
      if (info.notFound) problems.push(`${path}: VitePress 404 page`);
      if (info.pageScrollWidth > info.pageWidth + 1)
        problems.push(
          `${path}: the page scrolls sideways at ${VIEWPORT.width} px (${info.pageScrollWidth} px wide)`,
        );
      for (const block of info.overflowing)
        problems.push(
          `${path}: code block scrolls sideways at ${VIEWPORT.width} px (${block.scrollWidth} > ${block.clientWidth} px): "${block.line}"`,
        );
      for (const img of info.images) {
        if (img.naturalWidth === 0) {
          problems.push(`${path}: image ${img.src} did not load`);
          continue;
        }
        // Readable: shown at its own size or the column's full width, and when shrunk by more
        // than a quarter, a click opens the full-size image.
        const wanted = Math.min(img.naturalWidth, img.columnWidth);
        if (img.shownWidth < wanted - 2)
          problems.push(
            `${path}: image ${img.src} shown ${Math.round(img.shownWidth)} px wide, narrower than ${wanted} px (its size, or the column)`,
          );
        if (img.naturalWidth > img.shownWidth * 1.25 && img.zoomLink === null)
          problems.push(
            `${path}: image ${img.src} is shrunk from ${img.naturalWidth} to ${Math.round(img.shownWidth)} px and does not open at full size`,
          );
        images.push(img.src);
      }
      for (const machinePath of machinePaths)
        if (info.bodyText.includes(machinePath))
          problems.push(`${path}: shows the build machine's path ${machinePath}`);
      if (info.text.length < MIN_TEXT)
        problems.push(`${path}: main content is only ${info.text.length} characters`);
      idsByPage.set(path, new Set(info.ids));
      for (const href of info.links) {
        const url = new URL(href);
        if (url.origin !== base) continue;
        // Links to images and other files (a screenshot opened full size) are not pages.
        if (/\.(png|jpe?g|gif|svg|webp|json|txt)$/.test(url.pathname)) continue;
        const target = url.pathname.replace(/\.html$/, '');
        if (url.hash.length > 1) {
          const wanted = anchors.get(target) ?? new Map<string, string>();
          wanted.set(decodeURIComponent(url.hash.slice(1)), path);
          anchors.set(target, wanted);
        }
        if (!seen.has(target)) {
          seen.add(target);
          queue.push(target);
        }
      }
    };

    // A few tabs at once; each takes the next page from the shared queue.
    let active = 0;
    const tab = async () => {
      const page = await browser.newPage({ viewport: VIEWPORT });
      let current = '';
      page.on('console', (message) => {
        if (message.type() === 'error')
          problems.push(`${current}: console error: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`${current}: uncaught: ${error.message}`));
      for (;;) {
        const path = queue.shift();
        if (path === undefined) {
          if (active === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20)); // another tab may add pages
          continue;
        }
        active++;
        current = path;
        try {
          await visit(page, path);
        } finally {
          active--;
        }
      }
      await page.close();
    };
    await Promise.all([tab(), tab(), tab()]);

    for (const [target, wanted] of anchors) {
      const present = idsByPage.get(target);
      if (!present) continue; // a page that failed to load is already reported
      for (const [anchor, from] of wanted) {
        if (!present.has(anchor))
          problems.push(`${from}: link to ${target}#${anchor}, which has no such anchor`);
      }
    }

    console.log(`docs browser test: visited ${seen.size} pages, ${images.length} images`);
    expect(seen.size).toBeGreaterThan(20);
    expect(images.length).toBeGreaterThan(0); // the profiling pages' screenshots at least
    expect(problems).toEqual([]);
  }, 400_000);
});
