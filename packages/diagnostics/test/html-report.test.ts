import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, node, root, runCli } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(
    `Chromium is required in CI for the HTML report test; not found at ${CHROMIUM} (apt-get install chromium)`,
  );
}
if (!haveChromium) {
  console.warn(
    `html-report.test: skipping the screenshot, no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'offthread-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('HTML report', () => {
  it.skipIf(!haveChromium)(
    'renders its charts and flame graphs in headless Chromium; --cpuprofile',
    async () => {
      const html = join(dir, 'report.html');
      const cpuprofile = join(dir, 'run.cpuprofile');
      const r = await runCli(
        [
          'doctor',
          '-q',
          '--html',
          html,
          '--cpuprofile',
          cpuprofile,
          '--',
          node,
          fixture('busy-wait.mjs'),
        ],
        { env: { RUN_MS: '3500' } },
      );
      expect(r.code).toBe(0);
      // --cpuprofile: a V8 profile DevTools and speedscope open (nodes, samples, timeDeltas).
      const profile = JSON.parse(readFileSync(cpuprofile, 'utf8'));
      expect(profile.samples.length).toBe(profile.timeDeltas.length);
      expect(profile.samples.length).toBeGreaterThan(100);
      expect(profile.endTime).toBeGreaterThan(profile.startTime);
      const ids = new Set(profile.nodes.map((n: { id: number }) => n.id));
      expect(profile.samples.every((id: number) => ids.has(id))).toBe(true);
      expect(
        profile.nodes.some(
          (n: { callFrame: { functionName: string } }) => n.callFrame.functionName === 'busyWait',
        ),
      ).toBe(true);
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
        timeout: 20_000,
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const errors: string[] = [];
        const requests: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('request', (req) => {
          if (!req.url().startsWith('file:')) requests.push(req.url());
        });
        await page.goto(pathToFileURL(html).href, { waitUntil: 'load', timeout: 15_000 });
        mkdirSync(join(root, 'test-results'), { recursive: true });
        const charts = await page.locator('figure.chart svg').all();
        expect(charts.length).toBe(4);
        for (const svg of charts) {
          const box = await svg.boundingBox();
          expect(box!.width).toBeGreaterThan(200);
          expect(box!.height).toBeGreaterThan(100);
          // Every chart draws at least one data line.
          expect(await svg.locator('polyline.series').count()).toBeGreaterThan(0);
        }
        expect(await page.locator('.verdict').textContent()).toContain('Event loop blocked');
        // Flame graphs (icicles): one for the whole run, one per long block, drawn without script.
        const flames = await page.locator('svg.flame').all();
        expect(flames.length).toBeGreaterThanOrEqual(2);
        const whole = flames[0]!;
        const wbox = await whole.boundingBox();
        expect(wbox!.width).toBeGreaterThan(800);
        expect(wbox!.height).toBeGreaterThan(30);
        const busy = whole.locator('rect[data-name="busyWait"]');
        expect(await busy.count()).toBeGreaterThan(0);
        expect(Number(await busy.first().getAttribute('width'))).toBeGreaterThan(50);
        expect(await whole.locator('title').first().textContent()).toMatch(/samples?, [\d.]+%/);
        await whole.screenshot({ path: join(root, 'test-results', 'flame-graph.png') });
        expect(await page.locator('pre').first().textContent()).toContain('busyWait');
        // Identical stacks grouped, with a count; a time axis; the whole run's p99 as a line.
        expect(await page.locator('h3 .count').first().textContent()).toMatch(/^×[2-9]\d*$/);
        const delay = charts[0]!;
        expect(await delay.locator('line.ref').count()).toBe(1);
        expect(await delay.textContent()).toContain('whole-run p99');
        expect(await delay.textContent()).toContain('time since start (s)');
        const out = join(root, 'test-results');
        await page.screenshot({ path: join(out, 'html-report.png'), fullPage: true });
        expect(errors).toEqual([]);
        expect(requests).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});
