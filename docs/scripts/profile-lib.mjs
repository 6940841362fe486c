// What both profiling scripts (profile.mjs for the Express sample, profile-nest.mjs for
// apps/nest-sample) share: where evidence goes, how a step runs, how machine-specific text is
// scrubbed, the `offthread doctor` run, the summary table and the Chromium screenshots.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const docs = fileURLToPath(new URL('..', import.meta.url));
export const repo = fileURLToPath(new URL('../..', import.meta.url));
export const out = join(docs, 'measurements');
export const shots = join(docs, 'public/screenshots');
/** autocannon arguments of every load run: 8 connections for 10 s. */
export const load = '-c 8 -d 10';

const offthreadBin = createRequire(join(docs, 'package.json'))
  .resolve('@offthread/diagnostics/package.json')
  .replace(/package\.json$/, 'bin/offthread.js');

/** A fresh scratch directory, and the output directories the evidence is written to. */
export function prepare(prefix) {
  mkdirSync(out, { recursive: true });
  mkdirSync(shots, { recursive: true });
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs `node ...args` in `cwd`, echoing the step; any failure stops the script with its output. */
export function runner(cwd, baseEnv = process.env) {
  return (label, args, env = baseEnv) => {
    console.log(`> ${label}`);
    const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`${label} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
}

/**
 * Output shown on the site must not carry this machine's paths (the docs folder first, then the
 * repository root, e.g. packages/core/dist/...), the Node binary, pids or ports.
 */
export function clean(text) {
  return text
    .replaceAll(docs, 'docs/')
    .replaceAll('docs//', 'docs/')
    .replaceAll(repo, '')
    .replaceAll(process.execPath, 'node')
    .replace(/pid \d+/, 'pid 1234')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:3001')
    .replace(/\nWrote .*\n?$/, '\n');
}

/**
 * `offthread doctor` under load against one route of the app `entry` starts; writes
 * `<work>/<name>.html` and `.json` and returns the text report and the parsed JSON.
 */
export function doctor(run, { work, name, route, entry }) {
  const text = run(`offthread doctor ${route}`, [
    offthreadBin,
    'doctor',
    '--quiet',
    '--load',
    `${load} ${route}`,
    '--html',
    join(work, `${name}.html`),
    '--json',
    join(work, `${name}.json`),
    '--',
    process.execPath,
    entry,
  ]);
  return { text, report: JSON.parse(readFileSync(join(work, `${name}.json`), 'utf8')) };
}

const round = (n) => (n >= 100 ? Math.round(n) : Math.round(n * 10) / 10);

/**
 * The summary table a profiling page includes, so prose and numbers come from the same run.
 * Each row: `{ route, rps, p50, p99, report }`, latencies in ms.
 */
export function summaryTable({ latencyLabel, rows, footnote }) {
  return [
    `| route | requests/s | ${latencyLabel} p50 | ${latencyLabel} p99 | event-loop delay p99 | ELU | blocks > 50 ms |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(({ route, rps, p50, p99, report }) => {
      const loop = report.sinceStart.eventLoop;
      return `| \`${route}\` | ${round(rps)} | ${round(p50)} ms | ${round(p99)} ms | ${round(loop.delay.p99)} ms | ${Math.round(loop.utilization * 100)}% | ${loop.blockCount} |`;
    }),
    '',
    `_Measured ${new Date().toISOString().slice(0, 10)} on ${os.availableParallelism()} cores (1-minute load average ${os.loadavg()[0].toFixed(1)} at the end: other work on the machine makes every number noisier), Node ${process.version}, ${footnote}._`,
    '',
  ].join('\n');
}

/**
 * Screenshots the first screen (verdict and charts) of HTML reports in `work` with headless
 * Chromium, after scrubbing machine paths out of every report there. `pairs`: [file, png name].
 */
export async function screenshot(work, pairs) {
  for (const file of readdirSync(work).filter((f) => f.endsWith('.html'))) {
    const path = join(work, file);
    writeFileSync(
      path,
      readFileSync(path, 'utf8').replaceAll(repo, '').replaceAll(process.execPath, 'node'),
    );
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    for (const [file, png] of pairs) {
      await page.goto(`file://${join(work, file)}`, { waitUntil: 'load' });
      await page.waitForTimeout(2000); // charts render after load
      await page.screenshot({ path: join(shots, png) });
      console.log(`screenshot ${png}`);
    }
  } finally {
    await browser.close();
  }
}
