import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
  it.skipIf(!haveChromium)('renders its charts in headless Chromium', async () => {
    const html = join(dir, 'report.html');
    const r = await runCli(['doctor', '-q', '--html', html, '--', node, fixture('busy-wait.mjs')], {
      env: { RUN_MS: '3500' },
    });
    expect(r.code).toBe(0);
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
      expect(await page.locator('pre').first().textContent()).toContain('busyWait');
      const out = join(root, 'test-results');
      mkdirSync(out, { recursive: true });
      await page.screenshot({ path: join(out, 'html-report.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
